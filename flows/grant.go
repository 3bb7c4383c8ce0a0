package flows

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
)

// A grantKind is one kind of single-use grant sent to a user: a link
// token and, when Code is set, a six-digit code for a reader on another
// device (or an SMS). The password reset, passwordless sign-in and
// invitations are grant kinds; so are email verification and a change of
// email (issue 12), which carry the address in the grant's Data.
//
// The rules are the same for every kind (ASVS 6.4.1, NIST 800-63B 6.1.2.3):
// the link token has 256 bits, only hashes are stored (the code's keyed
// with the master secret, since six digits are easy to search), one grant
// per user and kind is live (a new request replaces the old one), it
// expires after TTL, a GET shows a page and spends nothing (peekGrant:
// mail scanners open links), the POST spends it (redeemToken or
// redeemCode), and a code dies after Tries wrong ones.
type grantKind struct {
	Purpose string
	TTL     time.Duration
	Code    bool
	Tries   int
}

// issued is what a grant's message carries. It holds secrets: it goes into
// the (encrypted) outbox and nowhere else, never a log or an audit record.
type issued struct {
	Token     string
	Code      string // "" unless the kind has a code
	ExpiresAt time.Time
}

// errGrantInvalid: the token or code is unknown, used, expired or out of
// tries. The callers answer it with their kind's code (RESET_TOKEN_INVALID).
var errGrantInvalid = errors.New("grant invalid")

// errNoGrants: the deployment's token store cannot keep grants.
var errNoGrants = errors.New("flows: the token store keeps no grants")

// issueGrant replaces u's grant of kind k with a fresh one.
func (s *Service) issueGrant(ctx context.Context, k grantKind, u *store.User, data string) (*issued, error) {
	if s.deps.Grants == nil {
		return nil, errNoGrants
	}
	g := &issued{Token: keys.NewToken(), ExpiresAt: s.cfg.Now().Add(k.TTL)}
	t := &store.OneTimeToken{Hash: keys.HashToken(g.Token), Purpose: k.Purpose, UserID: u.ID, ExpiresAt: g.ExpiresAt, Data: data}
	if k.Code {
		g.Code = sixDigits()
		t.CodeHash = s.keys.MAC("grant-code", k.Purpose, u.ID, g.Code)
	}
	if err := s.deps.Grants.IssueToken(ctx, t); err != nil {
		return nil, err
	}
	return g, nil
}

// peekGrant finds the live grant of a link token without spending it.
// errGrantInvalid when there is none; other errors are store failures.
func (s *Service) peekGrant(ctx context.Context, k grantKind, token string) (*store.OneTimeToken, error) {
	if s.deps.Grants == nil {
		return nil, errNoGrants
	}
	t, err := s.deps.Grants.PeekToken(ctx, keys.HashToken(token), k.Purpose, s.cfg.Now())
	return t, grantErr(err)
}

// redeemToken spends the grant of a link token (and its code with it).
func (s *Service) redeemToken(ctx context.Context, k grantKind, token string) (*store.OneTimeToken, error) {
	if s.deps.Grants == nil {
		return nil, errNoGrants
	}
	t, err := s.deps.Grants.ConsumeToken(ctx, keys.HashToken(token), k.Purpose, s.cfg.Now())
	return t, grantErr(err)
}

// redeemCode spends one try of u's grant of kind k, and the grant if code
// is its code. The code's hash is tried under every verifying key, so a
// secret rotation keeps codes sent just before it.
func (s *Service) redeemCode(ctx context.Context, k grantKind, userID, code string) (*store.OneTimeToken, error) {
	if s.deps.Grants == nil {
		return nil, errNoGrants
	}
	if !k.Code {
		return nil, errGrantInvalid
	}
	t, err := s.deps.Grants.TryCode(ctx, userID, k.Purpose, s.keys.MACs("grant-code", k.Purpose, userID, code), k.Tries, s.cfg.Now())
	return t, grantErr(err)
}

func grantErr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errGrantInvalid
	}
	return err
}

// hideTokenURL keeps a page whose URL carries a grant's token from
// handing that URL on as the Referer of its stylesheet and its form post
// (which access logs record): strict-origin sends the origin only. Not
// no-referrer, which would make the form post's Origin "null".
func hideTokenURL(w http.ResponseWriter) {
	w.Header().Set("Referrer-Policy", "strict-origin")
}

// wellFormedToken reports whether t has the shape of keys.NewToken's
// tokens (43 base64url characters), so a malformed one is refused as bad
// input before any store work.
func wellFormedToken(t string) bool {
	if len(t) != 43 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// wellFormedCode reports whether c is six ASCII digits.
func wellFormedCode(c string) bool {
	if len(c) != 6 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if c[i] < '0' || c[i] > '9' {
			return false
		}
	}
	return true
}

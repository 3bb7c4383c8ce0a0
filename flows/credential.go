package flows

import (
	"context"
	"errors"
	"net/http"

	"github.com/caddyauth/gateway/internal/session"
)

// CredentialSource says what a caller presented to be identified: a
// logout, a password change or a rotation revokes and reissues that kind.
type CredentialSource uint8

const (
	// SourceNone: nothing identified the caller.
	SourceNone CredentialSource = iota
	// SourceCookie: the session cookie.
	SourceCookie
	// SourceBearer: an access token in Authorization: Bearer (bearer mode).
	SourceBearer
	// SourceAPIKey: an API key (Authorization: Bearer or X-API-Key).
	SourceAPIKey
)

// String names the source in logs and audit records.
func (c CredentialSource) String() string {
	switch c {
	case SourceCookie:
		return "cookie"
	case SourceBearer:
		return "bearer"
	case SourceAPIKey:
		return "api_key"
	}
	return "none"
}

// found is a credential strategy's answer: the identity (nil when none
// is live), the raw token it was found under (a rotation revokes it), its
// source, and whether a credential of this kind was presented at all (a
// dead one answers SESSION_EXPIRED rather than UNAUTHENTICATED).
type found struct {
	ID        *session.Identity
	Token     string
	Source    CredentialSource
	Presented bool
	// Refused, when set, is why a presented credential was turned down
	// (TOKEN_INVALID, TOKEN_EXPIRED): the answer in place of the generic
	// SESSION_EXPIRED.
	Refused *APIError
}

// credentialStrategy is one way a caller is identified from request
// headers. The service asks each in order; the first live identity wins.
// A new credential (a bearer token, an API key) is a new strategy in its
// own file, added to Service.creds; the guard and the portal's caller
// wrapper need no change.
type credentialStrategy interface {
	// find returns the live identity in h. stages also admits sessions
	// still at the MFA challenge or enrolment stage. An error is a store
	// failure: the caller fails closed.
	find(ctx context.Context, h http.Header, stages bool) (found, error)
	// presented reports, cheaply and without a store lookup, whether h
	// carries a credential of this kind.
	presented(h http.Header) bool
}

// credentials is an ordered list of strategies.
type credentials []credentialStrategy

// find asks the strategies in order. It runs on every protected request:
// no allocation on a cache hit.
func (cs credentials) find(ctx context.Context, h http.Header, stages bool) (found, error) {
	var any found
	for _, c := range cs {
		f, err := c.find(ctx, h, stages)
		if err != nil || f.ID != nil {
			return f, err
		}
		any.Presented = any.Presented || f.Presented
		if any.Refused == nil {
			any.Refused = f.Refused
		}
	}
	return any, nil
}

// presented reports whether h carries a credential of any of cs.
func (cs credentials) presented(h http.Header) bool {
	for _, c := range cs {
		if c.presented(h) {
			return true
		}
	}
	return false
}

// findCaller identifies a portal caller: by session cookie or bearer
// token, never by API key (a key opens protected sites; it cannot mint
// keys, change a password or end sessions).
func (s *Service) findCaller(ctx context.Context, h http.Header, stages bool) (found, error) {
	return s.creds.find(ctx, h, stages)
}

// refusal is the answer to a caller with no live credential: a
// strategy's stated reason, else SESSION_EXPIRED for a dead credential and
// UNAUTHENTICATED for none.
func refusal(presented bool, refused *APIError) *APIError {
	if refused != nil {
		return refused
	}
	return unauthenticated(presented)
}

// cookieCredential is the session cookie: the first live one of at most
// maxSessionCookies same-named cookies (a sibling host's cookie of the
// same name may come first).
type cookieCredential struct{ s *Service }

func (c cookieCredential) presented(h http.Header) bool { return len(h["Cookie"]) > 0 }

func (c cookieCredential) find(ctx context.Context, h http.Header, stages bool) (found, error) {
	var buf [maxSessionCookies]string
	vals := session.CookieValues(h, c.s.cfg.Cookie.Name, buf[:0])
	for i, v := range vals {
		if i == len(buf) {
			break
		}
		id, err := c.s.deps.Sessions.Validate(ctx, v)
		if err == nil {
			if !stages && !id.Session.Full() {
				continue
			}
			return found{ID: id, Token: v, Source: SourceCookie, Presented: true}, nil
		}
		if !errors.Is(err, session.ErrNoSession) {
			return found{Source: SourceCookie, Presented: true}, err
		}
	}
	return found{Presented: len(vals) > 0}, nil
}

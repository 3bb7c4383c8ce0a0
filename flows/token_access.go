package flows

import (
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

// accessClaims are a bearer access token's claims: who (sub), which
// session (sid: every use is checked against it, so a revoke is felt at
// once, not at exp) and how they signed in (amr, RFC 8176).
type accessClaims struct {
	jwt.RegisteredClaims
	SID string   `json:"sid"`
	AMR []string `json:"amr,omitempty"`
}

// issueAccess signs an access token for the session of id. It never
// outlives the session's absolute end.
func (t *tokenKeys) issueAccess(id *session.Identity, now time.Time) (string, time.Duration, error) {
	ttl := t.cfg.AccessTTL
	if left := id.Session.ExpiresAt.Sub(now); left < ttl {
		ttl = left
	}
	ttl = ttl.Truncate(time.Second)
	c := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.cfg.Issuer,
			Audience:  jwt.ClaimStrings{t.cfg.Issuer},
			Subject:   id.User.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		SID: id.Session.ID,
		AMR: amrOf(&id.Session),
	}
	tok, err := t.access.Sign(typAccess, c)
	return tok, ttl, err
}

// parseAccess verifies an access token: our key (current or previous),
// EdDSA only, typ at+jwt, our issuer and audience. The error is
// keys.ErrTokenExpired or keys.ErrTokenInvalid.
func (t *tokenKeys) parseAccess(raw string, now func() time.Time) (*accessClaims, error) {
	if c, ok := t.verified.get(raw); ok {
		if !now().Before(c.ExpiresAt.Add(tokenLeeway)) {
			return nil, keys.ErrTokenExpired
		}
		return c, nil
	}
	var c accessClaims
	err := t.access.Parse(raw, &c, keys.Expect{
		Typ: typAccess, Issuer: t.cfg.Issuer, Audience: t.cfg.Issuer,
		Leeway: tokenLeeway, Now: now,
	})
	if err != nil {
		return nil, err
	}
	if c.SID == "" || c.Subject == "" {
		return nil, keys.ErrTokenInvalid
	}
	t.verified.put(raw, &c)
	return &c, nil
}

// maxVerified bounds tokenKeys.verified (a memo, token_memo.go), which
// remembers access tokens whose signature and claims were verified, so a
// client's next requests with the same token skip the EdDSA verification
// (about 50 µs; a lookup is well under one). Only a token that verified is
// kept, its exp is judged on every use, and its session is still looked up
// each time: the memo saves arithmetic, never a revocation check. A
// restart with other keys starts empty.
const maxVerified = 10000

// amrOf names the session's factors as RFC 8176 methods: "pwd" for a
// password, "otp" for a code, "fed" for an identity provider, plus "mfa"
// once a real second factor was passed.
func amrOf(s *store.Session) []string {
	var out []string
	switch {
	case s.AuthMethod == store.AuthPassword || s.AuthMethod == store.AuthSetup:
		out = append(out, "pwd")
	case s.AuthMethod == store.AuthPasswordless:
		out = append(out, "otp")
	case strings.HasPrefix(s.AuthMethod, store.AuthOAuthPrefix):
		out = append(out, "fed")
	}
	switch s.MFAMethod {
	case "":
	case MethodTOTP, MethodEmail:
		out = append(out, "otp", "mfa")
	case MethodSMS:
		out = append(out, "sms", "mfa")
	case MethodRecovery:
		out = append(out, "kba", "mfa")
	case MethodIdP:
		out = append(out, "mfa")
	}
	return out
}

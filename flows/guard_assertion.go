package flows

import (
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/caddyauth/gateway/internal/session"
)

// DefaultAssertionHeader carries the signed identity assertion upstream
// (contract: `protect { assertion [header <name>] }`).
const DefaultAssertionHeader = "Remote-Assertion"

// assertionClaims are what a signed identity assertion states: who (sub,
// email, name, groups), which session (sid), how they signed in (amr), for
// which site (aud) and for how long (iat, exp).
type assertionClaims struct {
	jwt.RegisteredClaims
	Email  string   `json:"email"`
	Name   string   `json:"name"`
	Groups []string `json:"groups"`
	SID    string   `json:"sid"`
	AMR    []string `json:"amr,omitempty"`
}

// assertionReuse is how long one signed assertion serves the same
// identity at the same site: signing costs tens of microseconds, a map
// lookup nothing, and an upstream still gets at least AssertionTTL minus
// this much life. It is the session cache's own bound (MaxCacheTTL), so an
// assertion is never staler than the identity that would be cached anyway.
const assertionReuse = session.MaxCacheTTL

// maxAssertions bounds the assertion memo (token_memo.go).
const maxAssertions = 10000

// assertionKey is a session and the Host it was addressed as.
type assertionKey struct{ sid, aud string }

// signedAssertion is one memoised assertion. It serves only the very
// identity value it was signed for: when the session cache reloads the
// identity (new groups, a new name), the next request signs afresh.
type signedAssertion struct {
	id  *session.Identity // the cached identity it was signed for
	tok string
	at  time.Time
}

// audienceOf is the assertion's audience, the site: the host as the
// client addressed it, lower case, and when that carries a port, the host
// name alone as well. An upstream pins either form; cookies do not keep
// ports of one host apart either, so the bare name claims no more than
// the session already spans.
func audienceOf(host string) jwt.ClaimStrings {
	host = strings.ToLower(host)
	name, _, err := net.SplitHostPort(host)
	if err != nil {
		return jwt.ClaimStrings{strings.Trim(host, "[]")}
	}
	return jwt.ClaimStrings{host, name}
}

// Assertion returns the header name and the signed assertion for a
// passing decision, or "" when this guard sends none. A verify endpoint
// answers it as one more identity header.
func (g *Guard) Assertion(d *Decision) (string, string) {
	if g.assertHeader == "" || d.Identity == nil {
		return "", ""
	}
	id := d.Identity
	now := g.s.cfg.Now()
	k := assertionKey{sid: id.Session.ID, aud: d.t.Host}
	if e, ok := g.assertions.get(k); ok && e.id == id && now.Sub(e.at) >= 0 && now.Sub(e.at) < assertionReuse {
		return g.assertHeader, e.tok
	}
	t := g.s.tokens
	c := assertionClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.cfg.Issuer,
			Audience:  audienceOf(d.t.Host),
			Subject:   id.User.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.cfg.AssertionTTL)),
		},
		Email: id.User.Email, Name: id.User.Name, Groups: id.User.Groups,
		SID: id.Session.ID, AMR: amrOf(&id.Session),
	}
	if c.Groups == nil {
		c.Groups = []string{}
	}
	tok, err := t.assertion.Sign(typAssertion, c)
	if err != nil {
		// Signing with an in-memory key does not fail; the upstream that
		// needs the assertion refuses the request without it.
		g.s.log.Error("identity assertion not signed", zapErr(err))
		return "", ""
	}
	g.assertions.put(k, signedAssertion{id: id, tok: tok, at: now})
	return g.assertHeader, tok
}

// setAssertion adds the signed assertion to a request that passes.
func (g *Guard) setAssertion(h http.Header, d *Decision) {
	if name, tok := g.Assertion(d); tok != "" {
		h[name] = []string{tok}
	}
}

// compileAssertion sets up the assertion header of cfg (nil: none). Its
// name may not be an identity header's, and a client's own copy is
// stripped like one.
func (g *Guard) compileAssertion(cfg *AssertionConfig) error {
	if cfg == nil {
		return nil
	}
	name, ok := assertionHeaderKey(cfg.Header)
	if !ok {
		return fmt.Errorf("invalid assertion header name %q", cfg.Header)
	}
	n := normHeader(name)
	for _, s := range g.strip {
		if s == n {
			return fmt.Errorf("assertion header %q is already an identity header", name)
		}
	}
	g.assertHeader = name
	g.strip = append(g.strip, n)
	g.assertions.max = maxAssertions
	return nil
}

// assertionHeaderKey judges and canonicalises the configured header name.
func assertionHeaderKey(name string) (string, bool) {
	if name == "" {
		name = DefaultAssertionHeader
	}
	if !validHeaderName(name) {
		return "", false
	}
	return textproto.CanonicalMIMEHeaderKey(name), true
}

// CheckAssertionHeader judges a configured assertion header name ("" is
// the default): a valid header name that is none of the default identity
// headers.
func CheckAssertionHeader(name string) error {
	key, ok := assertionHeaderKey(name)
	if !ok {
		return fmt.Errorf("invalid assertion header name %q", name)
	}
	for _, h := range DefaultHeaders {
		if normHeader(h.Name) == normHeader(key) {
			return fmt.Errorf("assertion header %q is already an identity header", name)
		}
	}
	return nil
}

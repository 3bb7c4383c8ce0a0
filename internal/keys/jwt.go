package keys

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token verification outcomes. Every refusal is one of the two, so callers
// answer a stable code and never a 500.
var (
	// ErrTokenExpired: a genuine token of the expected kind whose exp has
	// passed (the client should refresh).
	ErrTokenExpired = errors.New("token expired")
	// ErrTokenInvalid: anything else: malformed, truncated, another
	// algorithm, an unknown kid, a bad signature, another audience, issuer
	// or type, not yet valid, issued in the future, no expiry.
	ErrTokenInvalid = errors.New("token invalid")
)

// MaxTokenLen bounds what is parsed at all: our tokens are well under 1
// KiB, and a megabyte header must not cost a megabyte of base64 decoding.
const MaxTokenLen = 4096

// Expect is what a verified token must carry besides our signature.
type Expect struct {
	Typ      string        // the "typ" header (e.g. "at+jwt")
	Issuer   string        // iss
	Audience string        // one of aud
	Leeway   time.Duration // clock skew allowed on exp, nbf and iat
	Now      func() time.Time
}

// Sign signs claims with the current key; the header names the kid and
// typ, so verifiers pick the key without trying each.
func (s *Signer) Sign(typ string, claims jwt.Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = s.cur.kid
	t.Header["typ"] = typ
	return t.SignedString(s.cur.priv)
}

// Parse verifies raw and decodes its claims into into. Only EdDSA with one
// of this signer's kids verifies; the key is never taken from the token
// (no jwk, jku or x5u: ASVS 9.1.3). Claims are judged after the signature.
func (s *Signer) Parse(raw string, into jwt.Claims, e Expect) error {
	if len(raw) > MaxTokenLen || strings.Count(raw, ".") != 2 {
		return ErrTokenInvalid
	}
	now := e.Now
	if now == nil {
		now = time.Now
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{SigningAlg}),
		jwt.WithIssuer(e.Issuer),
		jwt.WithAudience(e.Audience),
		jwt.WithLeeway(e.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	)
	_, err := p.ParseWithClaims(raw, into, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != e.Typ {
			return nil, fmt.Errorf("typ %q", typ)
		}
		for _, h := range []string{"jwk", "jku", "x5u", "x5c", "crit"} {
			if _, ok := t.Header[h]; ok {
				return nil, fmt.Errorf("header %s not accepted", h)
			}
		}
		kid, _ := t.Header["kid"].(string)
		k, ok := s.publicKey(kid)
		if !ok {
			return nil, errors.New("unknown kid")
		}
		return k, nil
	})
	return classify(err)
}

// classify maps golang-jwt's errors onto the two outcomes. A token is only
// "expired" when expiry is all that is wrong with it: a forged or foreign
// token that also expired is invalid.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, jwt.ErrTokenExpired) && errors.Is(err, jwt.ErrTokenInvalidClaims) &&
		!errors.Is(err, jwt.ErrTokenInvalidAudience) && !errors.Is(err, jwt.ErrTokenInvalidIssuer) &&
		!errors.Is(err, jwt.ErrTokenUsedBeforeIssued) && !errors.Is(err, jwt.ErrTokenNotValidYet) {
		return ErrTokenExpired
	}
	return ErrTokenInvalid
}

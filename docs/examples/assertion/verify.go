// Package assertion is an upstream's side of `protect { assertion }`: it
// verifies the signed identity assertion the gateway adds to each request
// (header Remote-Assertion) against the gateway's public keys, published at
// <portal base>/.well-known/jwks.json.
//
// Copy it into an app that would rather verify who the user is than trust
// bare headers. It needs only the standard library and
// github.com/golang-jwt/jwt/v5. The test suite runs it against the real
// gateway (test/e2e TestAssertionVerifiedUpstream), so it is known to work:
//
//	v := &assertion.Verifier{
//		JWKSURL: "https://auth.example.com/auth/.well-known/jwks.json",
//		Issuer:  "caddyauth",
//		Site:    "app.example.com", // this app's host name: the aud
//	}
//	http.ListenAndServe(":8080", v.Middleware(app))
package assertion

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Header is where the gateway puts the assertion by default.
const Header = "Remote-Assertion"

// Claims are what the gateway asserts about the signed-in user.
type Claims struct {
	jwt.RegisteredClaims          // iss, aud (the site), sub (user id), iat, exp
	Email                string   `json:"email"`
	Name                 string   `json:"name"`
	Groups               []string `json:"groups"`
	SID                  string   `json:"sid"`
	AMR                  []string `json:"amr"`
}

// Verifier checks assertions with the keys of one gateway.
type Verifier struct {
	JWKSURL string       // the gateway's /.well-known/jwks.json
	Issuer  string       // "caddyauth" unless configured otherwise
	Site    string       // this app's host name (or host:port), an aud of the assertion
	Client  *http.Client // default http.DefaultClient

	mu      sync.Mutex
	keys    map[string]ed25519.PublicKey
	fetched time.Time
}

// Verify returns the claims of a valid assertion: our gateway's EdDSA
// signature (no other algorithm), its issuer, this site as audience, and
// an exp that has not passed.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		return v.key(ctx, kid)
	},
		jwt.WithValidMethods([]string{"EdDSA"}),
		jwt.WithIssuer(v.Issuer),
		jwt.WithAudience(v.Site),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Middleware admits only requests with a valid assertion and passes the
// claims on in the request context (ClaimsFrom).
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.Verify(r.Context(), r.Header.Get(Header))
		if err != nil {
			http.Error(w, "identity assertion refused", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
	})
}

type claimsKey struct{}

// ClaimsFrom returns the claims Middleware verified.
func ClaimsFrom(ctx context.Context) *Claims {
	c, _ := ctx.Value(claimsKey{}).(*Claims)
	return c
}

// key returns the public key kid, fetching the key set when kid is unknown
// (the gateway's secret was rotated), at most once every 10 seconds.
func (v *Verifier) key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok := v.keys[kid]; ok {
		return k, nil
	}
	if time.Since(v.fetched) < 10*time.Second {
		return nil, errors.New("unknown kid")
	}
	keys, err := v.fetch(ctx)
	if err != nil {
		return nil, err
	}
	v.keys, v.fetched = keys, time.Now()
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, errors.New("unknown kid")
}

func (v *Verifier) fetch(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.JWKSURL, nil)
	if err != nil {
		return nil, err
	}
	client := v.Client
	if client == nil {
		client = http.DefaultClient
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: %s", res.Status)
	}
	var set struct {
		Keys []struct {
			Kty, Crv, X, Kid, Alg string
		} `json:"keys"`
	}
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		return nil, err
	}
	out := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" {
			continue
		}
		b, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(b) != ed25519.PublicKeySize {
			continue
		}
		out[k.Kid] = ed25519.PublicKey(b)
	}
	return out, nil
}

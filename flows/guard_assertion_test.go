package flows

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/caddyauth/gateway/internal/keys"
)

// jwksKeyfunc verifies with the keys the portal publishes, as an upstream
// does: by kid, EdDSA only.
func jwksKeyfunc(t *testing.T, e *env) jwt.Keyfunc {
	t.Helper()
	res := e.do(jsonReq("GET", "/auth/.well-known/jwks.json", ""))
	var set struct{ Keys []keys.JWK }
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return func(tok *jwt.Token) (any, error) {
		for _, k := range set.Keys {
			if k.Kid == tok.Header["kid"] {
				b, err := base64.RawURLEncoding.DecodeString(k.X)
				return ed25519.PublicKey(b), err
			}
		}
		return nil, errors.New("unknown kid")
	}
}

func TestAssertionVerifiesWithTheJWKS(t *testing.T) {
	clk := newClock()
	e := newEnv(t, Config{Now: clk.Now}, GuardConfig{Assertion: &AssertionConfig{}})
	c := e.login(alicePW)
	r := withCookie(jsonReq("GET", "https://App.Example.com:8443/x", ""), c)
	r.Header.Set("remote_assertion", "forged") // a client's copy never passes
	r.Header.Set("Remote-Assertion", "forged")
	// Nor can a client have a proxy drop it as hop-by-hop.
	r.Header.Set("Connection", "keep-alive, Remote-Assertion")
	res := e.do(r)
	var up http.Header
	_ = json.NewDecoder(res.Body).Decode(&up)
	if len(up.Values(DefaultAssertionHeader)) != 1 || up.Get("Remote_Assertion") != "" {
		t.Fatalf("upstream assertion headers = %v", up)
	}
	if strings.Contains(strings.ToLower(strings.Join(up.Values("Connection"), ",")), "assertion") {
		t.Fatalf("Connection still names the assertion header: %v", up.Values("Connection"))
	}
	raw := up.Get(DefaultAssertionHeader)
	var claims assertionClaims
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience("app.example.com"),
		jwt.WithIssuer(DefaultIssuer), jwt.WithExpirationRequired(), jwt.WithTimeFunc(clk.Now)).
		ParseWithClaims(raw, &claims, jwksKeyfunc(t, e))
	if err != nil {
		t.Fatalf("upstream cannot verify the assertion: %v", err)
	}
	if claims.Subject != e.alice.ID || claims.Email != "alice@example.test" || claims.Name != "Alice Liddell" ||
		strings.Join(claims.Groups, ",") != "finance,staff" || claims.SID == "" || strings.Join(claims.AMR, ",") != "pwd" ||
		claims.ExpiresAt.Sub(claims.IssuedAt.Time) != 60*time.Second ||
		strings.Join(claims.Audience, ",") != "app.example.com:8443,app.example.com" {
		t.Fatalf("claims = %+v", claims)
	}
	// Another site is another audience: an assertion for one cannot be
	// replayed at the other.
	res = e.do(withCookie(jsonReq("GET", "https://other.example.com/x", ""), c))
	_ = json.NewDecoder(res.Body).Decode(&up)
	var other assertionClaims
	_, _, _ = jwt.NewParser().ParseUnverified(up.Get(DefaultAssertionHeader), &other)
	if len(other.Audience) != 1 || other.Audience[0] != "other.example.com" {
		t.Fatalf("aud at the other site = %v", other.Audience)
	}
	// Nor is it a bearer credential.
	wantCode(t, "assertion as bearer", e.do(withBearer(jsonReq("GET", "/x", ""), raw)), 401, CodeTokenInvalid)
	// An anonymous request gets none, and the forged one is still gone.
	r = jsonReq("GET", "/x", "")
	r.Header.Set("Remote-Assertion", "forged")
	if res := e.do(r); res.StatusCode != 401 {
		t.Fatalf("anonymous: %d", res.StatusCode)
	}
}

func TestAssertionHeaderNamed(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{Assertion: &AssertionConfig{Header: "X-Identity-JWT"}})
	c := e.login(alicePW)
	res := e.do(withCookie(jsonReq("GET", "/x", ""), c))
	var up http.Header
	_ = json.NewDecoder(res.Body).Decode(&up)
	if strings.Count(up.Get("X-Identity-Jwt"), ".") != 2 || up.Get(DefaultAssertionHeader) != "" {
		t.Fatalf("upstream = %v", up)
	}
	for _, bad := range []string{"Remote-User", "remote_email", "bad header"} {
		if _, err := e.svc.NewGuard(GuardConfig{Base: "/auth", Assertion: &AssertionConfig{Header: bad}}); err == nil {
			t.Errorf("assertion header %q accepted", bad)
		}
	}
}

// One signed assertion serves the same identity at one site for a few
// seconds; a new identity value (the session cache reloaded it) or time
// gets a new one.
func TestAssertionCache(t *testing.T) {
	clk := newClock()
	e := newEnv(t, Config{Now: clk.Now}, GuardConfig{Assertion: &AssertionConfig{}})
	id, err := e.svc.deps.Sessions.Create(t.Context(), e.alice, "", "")
	if err != nil {
		t.Fatal(err)
	}
	d := &Decision{Verdict: VerdictAllow, Identity: id, t: Target{Host: "app.example.com"}}
	_, a := e.guard.Assertion(d)
	if _, b := e.guard.Assertion(d); b != a {
		t.Fatal("same identity, same site, same second: signed again")
	}
	d2 := *d
	d2.t.Host = "b.example.com"
	if _, b := e.guard.Assertion(&d2); b == a {
		t.Fatal("another site got the first site's assertion")
	}
	clk.Advance(time.Second) // a new signature would differ (iat)
	if _, b := e.guard.Assertion(d); b != a {
		t.Fatal("signed again within the reuse window")
	}
	copyID := *id
	d3 := *d
	d3.Identity = &copyID
	if _, b := e.guard.Assertion(&d3); b == a {
		t.Fatal("a reloaded identity got the old assertion")
	}
	clk.Advance(assertionReuse + time.Second)
	if _, b := e.guard.Assertion(d); b == a {
		t.Fatal("an assertion served past the reuse window")
	}
}

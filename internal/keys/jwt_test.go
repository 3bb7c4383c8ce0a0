package keys

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func expect() Expect {
	return Expect{
		Typ: "at+jwt", Issuer: "iss.test", Audience: "aud.test", Leeway: 5 * time.Second,
		Now: func() time.Time { return t0 },
	}
}

func claimsAt(iat, exp time.Time) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{
		Issuer: "iss.test", Audience: jwt.ClaimStrings{"aud.test"}, Subject: "u1",
		IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(exp),
	}
}

func mustSigner(t testing.TB, cur, prev string) *Signer {
	t.Helper()
	r, err := NewRing(cur, prev)
	if err != nil {
		t.Fatal(err)
	}
	return r.Signer("access-token")
}

func mustSign(t testing.TB, s *Signer, typ string, c jwt.Claims) string {
	t.Helper()
	tok, err := s.Sign(typ, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// raw builds a token by hand: header and claims as given, signature by sig.
func raw(header, claims map[string]any, sig func(signing string) []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	s := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	return s + "." + base64.RawURLEncoding.EncodeToString(sig(s))
}

func goodClaims() map[string]any {
	return map[string]any{
		"iss": "iss.test", "aud": "aud.test", "sub": "u1",
		"iat": t0.Unix(), "exp": t0.Add(time.Minute).Unix(),
	}
}

func TestSignParseRoundTrip(t *testing.T) {
	s := mustSigner(t, s1, "")
	tok := mustSign(t, s, "at+jwt", claimsAt(t0, t0.Add(time.Minute)))
	var got jwt.RegisteredClaims
	if err := s.Parse(tok, &got, expect()); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got.Subject != "u1" {
		t.Fatalf("sub = %q", got.Subject)
	}
	parts := strings.Split(tok, ".")
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	_ = json.Unmarshal(hdr, &h)
	if h["alg"] != "EdDSA" || h["kid"] != s.KID() || h["typ"] != "at+jwt" {
		t.Fatalf("header = %v", h)
	}
}

// Every way a token can be wrong ends in ErrTokenInvalid or, for a genuine
// token past its exp, ErrTokenExpired (issue 13 item 6).
func TestParseRefusals(t *testing.T) {
	s := mustSigner(t, s1, "")
	other := mustSigner(t, s2, "")
	good := mustSign(t, s, "at+jwt", claimsAt(t0, t0.Add(time.Minute)))
	edSig := func(k ed25519.PrivateKey) func(string) []byte {
		return func(in string) []byte { return ed25519.Sign(k, []byte(in)) }
	}
	hdr := map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": s.KID()}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for kk, vv := range m {
			out[kk] = vv
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	pubHMAC := func(in string) []byte { // key confusion: HS256 keyed with our public key
		m := hmac.New(sha256.New, s.cur.pub)
		m.Write([]byte(in))
		return m.Sum(nil)
	}
	cases := []struct {
		name string
		tok  string
		want error
	}{
		{"empty", "", ErrTokenInvalid},
		{"garbage", "not a token", ErrTokenInvalid},
		{"truncated", good[:len(good)-10], ErrTokenInvalid},
		{"two parts", strings.Join(strings.Split(good, ".")[:2], "."), ErrTokenInvalid},
		{"signature stripped", good[:strings.LastIndex(good, ".")+1], ErrTokenInvalid},
		{"padded base64", good + "==", ErrTokenInvalid},
		{"too long", good + strings.Repeat("A", MaxTokenLen), ErrTokenInvalid},
		{"alg none", raw(with(hdr, "alg", "none"), goodClaims(), func(string) []byte { return nil }), ErrTokenInvalid},
		{"HS256 with the public key", raw(with(hdr, "alg", "HS256"), goodClaims(), pubHMAC), ErrTokenInvalid},
		{"wrong kid", raw(with(hdr, "kid", "nope"), goodClaims(), edSig(s.cur.priv)), ErrTokenInvalid},
		{"no kid", raw(with(hdr, "kid", nil), goodClaims(), edSig(s.cur.priv)), ErrTokenInvalid},
		{"other key, our kid", raw(hdr, goodClaims(), edSig(other.cur.priv)), ErrTokenInvalid},
		{"embedded jwk", raw(with(hdr, "jwk", map[string]any{"kty": "OKP"}), goodClaims(), edSig(s.cur.priv)), ErrTokenInvalid},
		{"jku", raw(with(hdr, "jku", "http://attacker.invalid/jwks"), goodClaims(), edSig(s.cur.priv)), ErrTokenInvalid},
		{"other typ", mustSign(t, s, "assertion+jwt", claimsAt(t0, t0.Add(time.Minute))), ErrTokenInvalid},
		{"no typ", raw(with(hdr, "typ", nil), goodClaims(), edSig(s.cur.priv)), ErrTokenInvalid},
		{"edited sub", func() string {
			p := strings.Split(good, ".")
			c := goodClaims()
			c["sub"] = "admin"
			b, _ := json.Marshal(c)
			return p[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + p[2]
		}(), ErrTokenInvalid},
		{"expired", mustSign(t, s, "at+jwt", claimsAt(t0.Add(-time.Hour), t0.Add(-time.Minute))), ErrTokenExpired},
		{"expired within leeway", mustSign(t, s, "at+jwt", claimsAt(t0.Add(-time.Hour), t0.Add(-2*time.Second))), nil},
		{"no exp", raw(hdr, with(goodClaims(), "exp", nil), edSig(s.cur.priv)), ErrTokenInvalid},
		{"future iat", mustSign(t, s, "at+jwt", claimsAt(t0.Add(time.Hour), t0.Add(2*time.Hour))), ErrTokenInvalid},
		{"future nbf", raw(hdr, with(goodClaims(), "nbf", t0.Add(time.Hour).Unix()), edSig(s.cur.priv)), ErrTokenInvalid},
		{"other audience", raw(hdr, with(goodClaims(), "aud", "other"), edSig(s.cur.priv)), ErrTokenInvalid},
		{"other audience, expired", raw(hdr, with(with(goodClaims(), "aud", "other"), "exp", t0.Add(-time.Hour).Unix()), edSig(s.cur.priv)), ErrTokenInvalid},
		{"no audience", raw(hdr, with(goodClaims(), "aud", nil), edSig(s.cur.priv)), ErrTokenInvalid},
		{"other issuer", raw(hdr, with(goodClaims(), "iss", "evil"), edSig(s.cur.priv)), ErrTokenInvalid},
		{"exp not a number", raw(hdr, with(goodClaims(), "exp", "tomorrow"), edSig(s.cur.priv)), ErrTokenInvalid},
		{"claims not an object", raw(hdr, nil, edSig(s.cur.priv)), ErrTokenInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c jwt.RegisteredClaims
			err := s.Parse(tc.tok, &c, expect())
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("Parse = %v, want %v", err, tc.want)
			}
		})
	}
}

// With previous_secret set, tokens signed by the old key still verify, new
// ones carry the new kid, and the JWKS lists both (issue 13 item 5).
func TestRotationKeepsOldTokens(t *testing.T) {
	old := mustSigner(t, s1, "")
	oldTok := mustSign(t, old, "at+jwt", claimsAt(t0, t0.Add(time.Minute)))
	rotated := mustSigner(t, s2, s1)
	if rotated.KID() == old.KID() {
		t.Fatal("rotation kept the kid")
	}
	var c jwt.RegisteredClaims
	if err := rotated.Parse(oldTok, &c, expect()); err != nil {
		t.Fatalf("old token after rotation: %v", err)
	}
	newTok := mustSign(t, rotated, "at+jwt", claimsAt(t0, t0.Add(time.Minute)))
	if err := old.Parse(newTok, &c, expect()); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("new token on the old ring: %v", err)
	}
	ks := rotated.JWKs()
	if len(ks) != 2 || ks[0].Kid != rotated.KID() || ks[1].Kid != old.KID() {
		t.Fatalf("jwks = %+v", ks)
	}
	dropped := mustSigner(t, s2, "")
	if err := dropped.Parse(oldTok, &c, expect()); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("old token after previous_secret is dropped: %v", err)
	}
}

func TestPurposesHaveTheirOwnKeys(t *testing.T) {
	r, _ := NewRing(s1, "")
	a, b := r.Signer("access-token"), r.Signer("assertion")
	if a.KID() == b.KID() {
		t.Fatal("purposes share a signing key")
	}
	tok := mustSign(t, b, "at+jwt", claimsAt(t0, t0.Add(time.Minute)))
	var c jwt.RegisteredClaims
	if err := a.Parse(tok, &c, expect()); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("assertion key verified as access key: %v", err)
	}
	j := a.JWKs()[0]
	if pub, _ := base64.RawURLEncoding.DecodeString(j.X); !ed25519.PublicKey(pub).Equal(a.cur.pub) || j.Kty != "OKP" || j.Crv != "Ed25519" {
		t.Fatalf("jwk = %+v", j)
	}
}

// FuzzParse: no input panics, and nothing but a token we signed verifies.
func FuzzParse(f *testing.F) {
	s := mustSigner(f, s1, "")
	good := mustSign(f, s, "at+jwt", claimsAt(t0, t0.Add(time.Minute)))
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		var c jwt.RegisteredClaims
		err := s.Parse(tok, &c, expect())
		if err == nil && tok != good {
			// Only our own signature verifies; Ed25519 signatures are
			// not malleable, so no other string may pass.
			t.Fatalf("forged token verified: %q", tok)
		}
		if err != nil && !errors.Is(err, ErrTokenInvalid) && !errors.Is(err, ErrTokenExpired) {
			t.Fatalf("unclassified error %v", err)
		}
	})
}

package flows

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
)

// Spellings of kate@example.test that are not it: strings.ToLower turns
// the first into it (issue 9, item 12), the others are look-alikes.
var kateLookAlikes = []string{
	"\u212Aate@example.test",       // KELVIN SIGN
	"\u212AATE@EXAMPLE.TEST",       // the same, upper-case ASCII after it
	"\uFF4Bate@example.test",       // FULLWIDTH LATIN SMALL LETTER K
	"\u212Aate@\u212Axample.test",  // Kelvin sign in the domain too
	"kate@exampl\u0435.test",       // CYRILLIC SMALL LETTER IE for e
	"k\u0061\u0301te@example.test", // combining accent
	"kate@example.test\u00A0",      // NO-BREAK SPACE after it (strings.TrimSpace removed it)
	"\u3000kate@example.test",      // IDEOGRAPHIC SPACE before it
}

func TestEmailNormalisationASCIIOnly(t *testing.T) {
	if got := NormalizeEmail(" \u212Aate@Example.test "); got != "\u212Aate@example.test" {
		t.Errorf("NormalizeEmail folded beyond ASCII: %q", got)
	}
	if got := NormalizeEmail(" KATE@Example.TEST "); got != "kate@example.test" {
		t.Errorf("NormalizeEmail(ASCII) = %q", got)
	}
	for _, e := range kateLookAlikes {
		if ValidEmail(e) {
			t.Errorf("ValidEmail(%q) = true: non-ASCII addresses are refused", e)
		}
	}
	if !ValidEmail("kate+tag@example.test") {
		t.Error("ValidEmail refuses an ASCII address")
	}
}

// TestLoginRefusesNonASCIIEmail: the login form answers INVALID_INPUT to a
// non-ASCII email, before any lookup, and never signs in the ASCII account
// it folds to.
func TestLoginRefusesNonASCIIEmail(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	hash, _ := e.hasher.Hash(context.Background(), alicePW)
	kate := &store.User{ID: keys.NewID(), Email: "kate@example.test", Status: store.StatusActive, PasswordHash: hash}
	if err := e.mem.CreateUser(context.Background(), kate); err != nil {
		t.Fatal(err)
	}
	for _, email := range kateLookAlikes {
		res := e.do(jsonReq("POST", "/auth/login", `{"email":"`+email+`","password":"`+alicePW+`"}`))
		if got := decodeErr(t, res); got.Code != CodeInvalidInput || res.StatusCode != http.StatusBadRequest {
			t.Errorf("%q: %+v, want 400 INVALID_INPUT", email, got)
		}
		for _, c := range res.Cookies() {
			if c.Name == e.svc.CookieName() && c.Value != "" {
				t.Errorf("%q: signed in (as kate?)", email)
			}
		}
	}
	// Other bad shapes keep the answer of a wrong password.
	for _, email := range []string{"kate @example.test", "kate,x@example.test", "not-an-email"} {
		if got := decodeErr(t, e.do(jsonReq("POST", "/auth/login", `{"email":"`+email+`","password":"`+alicePW+`"}`))); got.Code != CodeInvalidCredentials {
			t.Errorf("%q: %+v, want INVALID_CREDENTIALS as before", email, got)
		}
	}
	if res := e.do(jsonReq("POST", "/auth/login", `{"email":"KATE@Example.test","password":"`+alicePW+`"}`)); res.StatusCode != http.StatusOK {
		t.Errorf("ASCII case of kate's email: %d", res.StatusCode)
	}
}

// TestOAuthNonASCIIEmailRefused: a provider-verified email with a Kelvin
// sign neither links kate's account nor creates a look-alike one; the
// sign-in is refused with a stable code and audited.
func TestOAuthNonASCIIEmailRefused(t *testing.T) {
	rec := oauthEmailRefused(t, "\u212Aate@example.com")
	if !rec.has(audit.LoginFailed, "email_not_ascii", "oauth:github") {
		t.Fatalf("no login.failed email_not_ascii event: %+v", rec.events)
	}
	if e := rec.find(audit.LoginFailed, ""); e == nil || !strings.Contains(e.Email, "\u212A") {
		t.Errorf("the audit event does not name the address the provider sent: %+v", e)
	}
}

package flows

import (
	"context"
	"io"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/ratelimit"
)

// TestLoginByPhone: the `phone` field (DESIGN.md's login contract), or a
// username starting with "+", signs in by the account's E.164 phone, with
// the same answers and the same lockout as the email.
func TestLoginByPhone(t *testing.T) {
	e := newEnv(t, Config{Limits: &Limits{LockoutMax: 3, LockoutWindow: 15 * time.Minute, LockoutDuration: 15 * time.Minute}}, GuardConfig{})
	e.alice.Phone, e.alice.PhoneVerifiedAt = "+15550100000", time.Unix(1, 0)
	if err := e.mem.UpdateUser(context.Background(), e.alice); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		`{"phone":"+15550100000","password":"` + alicePW + `"}`,
		`{"phone":"+1 (555) 010-0000","password":"` + alicePW + `"}`,
		`{"username":"+1 555 010 0000","password":"` + alicePW + `"}`,
	} {
		res := e.do(jsonReq("POST", "/auth/login", body))
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d, want 200", body, res.StatusCode)
		}
		sessionCookie(t, e, res)
	}
	// The form post takes the same field.
	res := e.do(formReq("/auth/login", url.Values{"phone": {"+15550100000"}, "password": {alicePW}}))
	if res.StatusCode != 303 {
		t.Fatalf("form: %d", res.StatusCode)
	}
	sessionCookie(t, e, res)

	// A wrong password and an unknown phone look alike.
	var bodies []string
	for _, body := range []string{
		`{"phone":"+15550100000","password":"wrong password here"}`,
		`{"phone":"+15550199999","password":"wrong password here"}`,
	} {
		r := jsonReq("POST", "/auth/login", body)
		r.RemoteAddr = "198.51.100.9:4000"
		res := e.do(r)
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 401 {
			t.Fatalf("%s: %d %s", body, res.StatusCode, b)
		}
		bodies = append(bodies, string(b))
	}
	if bodies[0] != bodies[1] {
		t.Fatalf("wrong password %q vs unknown phone %q", bodies[0], bodies[1])
	}

	// Not a phone number: a clear INVALID_INPUT, not a lookup.
	for _, bad := range []string{"5550100000", "+0123456789", "+1555abc0000", "+1"} {
		res := e.do(jsonReq("POST", "/auth/login", `{"phone":"`+bad+`","password":"x"}`))
		if got := decodeErr(t, res); res.StatusCode != 400 || got.Code != CodeInvalidInput {
			t.Errorf("phone %q: %d %+v, want 400 INVALID_INPUT", bad, res.StatusCode, got)
		}
	}

	// Failures by phone and by email count against one lock: switching
	// field does not buy more guesses.
	ip := "192.0.2.44"
	loginPhone := func(pw string) int {
		r := jsonReq("POST", "/auth/login", `{"phone":"+15550100000","password":"`+pw+`"}`)
		r.RemoteAddr = ip + ":4000"
		return e.do(r).StatusCode
	}
	loginPhone("wrong password here")
	loginFrom(e, ip, "alice@example.test", "wrong password here", "")
	loginPhone("wrong password here")
	if got := decodeErr(t, loginFrom(e, ip, "alice@example.test", alicePW, "")); got.Code != CodeAccountLocked {
		t.Fatalf("after 3 failures split over phone and email: %+v, want ACCOUNT_LOCKED", got)
	}
	if code := loginPhone(alicePW); code != 429 {
		t.Fatalf("phone login on the locked pair: %d, want 429", code)
	}
	// The admin unlock by email lifts it for the phone too.
	if n, err := e.svc.Unlock(context.Background(), "alice@example.test"); err != nil || n != 1 {
		t.Fatalf("unlock: %d pairs, %v", n, err)
	}
	if code := loginPhone(alicePW); code != 200 {
		t.Fatalf("after unlock: %d", code)
	}
}

// TestLoginByPhoneSharesIdentifierBucket: guesses by email and by phone of
// one account draw on one identifier bucket, so switching field buys no
// extra guesses from a pool of addresses.
func TestLoginByPhoneSharesIdentifierBucket(t *testing.T) {
	e := newEnv(t, Config{Limits: &Limits{LoginIdentifier: ratelimit.Rate{N: 3, Per: time.Minute}}}, GuardConfig{})
	e.alice.Phone, e.alice.PhoneVerifiedAt = "+15550100000", time.Unix(1, 0)
	if err := e.mem.UpdateUser(context.Background(), e.alice); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if res := loginFrom(e, "192.0.2."+strconv.Itoa(i+1), "alice@example.test", "wrong password here", ""); res.StatusCode != 401 {
			t.Fatalf("guess %d by email: %d", i, res.StatusCode)
		}
	}
	r := jsonReq("POST", "/auth/login", `{"phone":"+15550100000","password":"wrong password here"}`)
	r.RemoteAddr = "198.51.100.7:4000"
	if got := decodeErr(t, e.do(r)); got.Code != CodeRateLimited {
		t.Fatalf("a guess by phone after the email's bucket is spent: %+v, want RATE_LIMITED", got)
	}
	// An unknown phone is not limited by someone else's bucket.
	r = jsonReq("POST", "/auth/login", `{"phone":"+15550199999","password":"wrong password here"}`)
	if res := e.do(r); res.StatusCode != 401 {
		t.Fatalf("unknown phone: %d", res.StatusCode)
	}
}

// TestLoginPageTakesPhone: with an SMS sender the page's one field takes an
// email or a phone number (a "+..." value is a phone); without one it stays
// an email field.
func TestLoginPageTakesPhone(t *testing.T) {
	page := func(e *env) string {
		r := httptest.NewRequest("GET", "/auth/login", nil)
		r.Header.Set("Accept", "text/html")
		return readBody(t, e.do(r))
	}
	plain := newEnv(t, Config{}, GuardConfig{})
	if p := page(plain); !strings.Contains(p, `type="email"`) || strings.Contains(p, "phone") {
		t.Fatalf("no SMS sender: the field should be a plain email field:\n%s", p)
	}
	m := newMFAEnv(t, MFAConfig{}, GuardConfig{}) // has an outbox with every channel
	if p := page(m.env); !strings.Contains(p, "Email or phone number") || !strings.Contains(p, `type="text" inputmode="email"`) {
		t.Fatalf("with an SMS sender:\n%s", p)
	}
	m.alice.Phone, m.alice.PhoneVerifiedAt = "+15550100000", time.Unix(1, 0)
	if err := m.mem.UpdateUser(context.Background(), m.alice); err != nil {
		t.Fatal(err)
	}
	res := m.do(formReq("/auth/login", url.Values{"email": {"+1 555 010 0000"}, "password": {alicePW}}))
	if res.StatusCode != 303 {
		t.Fatalf("form login with a phone in the email field: %d", res.StatusCode)
	}
	sessionCookie(t, m.env, res)
	// A refused phone login shows the number again, not an empty field.
	res = m.do(formReq("/auth/login", url.Values{"phone": {"+15550100000"}, "password": {"wrong password here"}}))
	if p := readBody(t, res); res.StatusCode != 401 || !strings.Contains(p, `value="&#43;15550100000"`) && !strings.Contains(p, `value="+15550100000"`) {
		t.Fatalf("refused phone login page: %d\n%s", res.StatusCode, p)
	}
}

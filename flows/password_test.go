package flows

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

const newPW = "plum tractor quietly sings"

func changeReq(body string, c *http.Cookie) *http.Request {
	return withCookie(jsonReq("POST", "/auth/change-password", body), c)
}

func (e *env) alive(c *http.Cookie) bool {
	return e.do(withCookie(jsonReq("GET", "/auth/session", ""), c)).StatusCode == http.StatusOK
}

// TestChangePassword (SECURITY.md 6.2.2, 6.2.3, 7.4.3): the current and
// new password change it; the old one stops working; the caller's session
// is rotated; other sessions and remembered devices end unless the caller
// keeps them; the user is told by email and the audit trail records it.
func TestChangePassword(t *testing.T) {
	m := newMFAEnv(t, MFAConfig{}, GuardConfig{})
	e := m.env
	other := e.login(alicePW)
	mine := e.login(alicePW)

	res := e.do(changeReq(`{"current_password":"`+alicePW+`","new_password":"`+newPW+`"}`, mine))
	if res.StatusCode != 200 {
		t.Fatalf("change: %d %+v", res.StatusCode, decodeErr(t, res))
	}
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	if body["password_changed"] != true || body["sessions_ended"] != float64(1) {
		t.Fatalf("answer %v", body)
	}
	rotated := sessionCookie(t, e, res)
	if rotated.Value == mine.Value || e.alive(mine) || !e.alive(rotated) {
		t.Fatal("the caller's session was not rotated into a new live one")
	}
	if e.alive(other) {
		t.Fatal("another session survived a password change (logout_others defaults to true)")
	}
	if r := e.do(jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"`+alicePW+`"}`)); r.StatusCode != 401 {
		t.Fatalf("old password: %d", r.StatusCode)
	}
	e.login(newPW)
	if msg := m.queue.last(t); msg.Kind != notify.KindPasswordChanged || msg.To != "alice@example.test" {
		t.Fatalf("notice %+v", msg)
	}
	if !m.aud.has("password.changed") {
		t.Fatal("no password.changed audit event")
	}
	for _, ev := range m.aud.evs {
		b, _ := json.Marshal(ev)
		if strings.Contains(string(b), newPW) || strings.Contains(string(b), alicePW) {
			t.Fatalf("a password reached the audit trail: %s", b)
		}
	}

	// logout_others false keeps the other sessions.
	a, b := e.login(newPW), e.login(newPW)
	res = e.do(changeReq(`{"current_password":"`+newPW+`","new_password":"`+alicePW+`","logout_others":false}`, a))
	if res.StatusCode != 200 || !e.alive(b) || e.alive(a) || !e.alive(sessionCookie(t, e, res)) {
		t.Fatalf("logout_others false: %d, other alive %v", res.StatusCode, e.alive(b))
	}
}

// TestChangePasswordRefusals: every refusal says why, in a stable code,
// and leaves the password as it was.
func TestChangePasswordRefusals(t *testing.T) {
	e := newEnv(t, Config{Limits: &Limits{LockoutMax: 3, LockoutWindow: 15 * time.Minute, LockoutDuration: 15 * time.Minute}}, GuardConfig{})
	c := e.login(alicePW)
	for _, tc := range []struct {
		body   string
		status int
		code   string
		msg    string
	}{
		{`{"new_password":"` + newPW + `"}`, 400, CodeInvalidInput, "current password"},
		{`{"current_password":"` + alicePW + `"}`, 400, CodeInvalidInput, "current password"},
		{`{"current_password":"` + alicePW + `","new_password":"passwordpassword"}`, 400, CodeInvalidInput, "too common"},
		{`{"current_password":"` + alicePW + `","new_password":"short one"}`, 400, CodeInvalidInput, "15 characters"},
		{`{"current_password":"` + alicePW + `","new_password":"alice liddell 2026 pw"}`, 400, CodeInvalidInput, "name"},
		{`{"current_password":"` + alicePW + `","new_password":"` + alicePW + `"}`, 400, CodeInvalidInput, "same as the current"},
		{`{"current_password":"` + alicePW + `","new_password":"` + newPW + `","confirm":"something else entirely"}`, 400, CodeInvalidInput, "differ"},
		{`{"current_password":"` + alicePW + `","new_password":"` + newPW + `","extra":1}`, 400, CodeInvalidInput, "unknown field"},
	} {
		res := e.do(changeReq(tc.body, c))
		got := decodeErr(t, res)
		if res.StatusCode != tc.status || got.Code != tc.code || !strings.Contains(got.Message, tc.msg) {
			t.Errorf("%s: %d %+v, want %d %s %q", tc.body, res.StatusCode, got, tc.status, tc.code, tc.msg)
		}
	}
	// Anonymous and challenge-stage callers cannot change anything.
	if res := e.do(jsonReq("POST", "/auth/change-password", `{"current_password":"`+alicePW+`","new_password":"`+newPW+`"}`)); res.StatusCode != 401 {
		t.Fatalf("anonymous: %d", res.StatusCode)
	}
	// A wrong current password is 401 and counts toward the lockout.
	for i := 0; i < 3; i++ {
		res := e.do(changeReq(`{"current_password":"not the password at all","new_password":"`+newPW+`"}`, c))
		if got := decodeErr(t, res); res.StatusCode != 401 || got.Code != CodeInvalidCredentials {
			t.Fatalf("wrong current %d: %d %+v", i, res.StatusCode, got)
		}
	}
	res := e.do(changeReq(`{"current_password":"`+alicePW+`","new_password":"`+newPW+`"}`, c))
	if got := decodeErr(t, res); res.StatusCode != 429 || got.Code != CodeAccountLocked {
		t.Fatalf("after 3 wrong: %d %+v, want 429 ACCOUNT_LOCKED", res.StatusCode, got)
	}
	// The same lock holds at the login form from that address.
	if got := decodeErr(t, loginFrom(e, "192.0.2.1", "alice@example.test", alicePW, "")); got.Code != CodeAccountLocked {
		t.Fatalf("login after the change-password lock: %+v", got)
	}
	if !e.alive(c) {
		t.Fatal("refusals ended the session")
	}
}

// TestChangePasswordFormAndCSRF: the page and the form post work without
// JavaScript, an unchecked box keeps other sessions, and a cross-site post
// is refused before anything happens.
func TestChangePasswordFormAndCSRF(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	c := e.login(alicePW)
	other := e.login(alicePW)

	r := withCookie(httptest.NewRequest("GET", "/auth/change-password", nil), c)
	r.Header.Set("Accept", "text/html")
	res := e.do(r)
	page := readBody(t, res)
	if res.StatusCode != 200 || !strings.Contains(page, `autocomplete="current-password"`) || !strings.Contains(page, `name="logout_others" value="on" checked`) {
		t.Fatalf("page %d:\n%s", res.StatusCode, page)
	}
	anon := httptest.NewRequest("GET", "/auth/change-password", nil)
	anon.Header.Set("Accept", "text/html")
	if res := e.do(anon); res.StatusCode != 303 || !strings.HasPrefix(res.Header.Get("Location"), "/auth/login?rd=") {
		t.Fatalf("anonymous page: %d %s", res.StatusCode, res.Header.Get("Location"))
	}

	form := url.Values{"current_password": {alicePW}, "new_password": {newPW}, "confirm": {newPW}}
	cross := withCookie(formReq("/auth/change-password", form), c)
	cross.Header.Set("Origin", "https://evil.example")
	cross.Header.Set("Sec-Fetch-Site", "cross-site")
	if res := e.do(cross); res.StatusCode != 403 {
		t.Fatalf("cross-site post: %d", res.StatusCode)
	}
	e.login(alicePW) // unchanged

	req := withCookie(formReq("/auth/change-password", form), c)
	req.Header.Set("Accept", "text/html")
	res = e.do(req)
	if body := readBody(t, res); res.StatusCode != 200 || !strings.Contains(body, "Password changed") {
		t.Fatalf("form post: %d\n%s", res.StatusCode, body)
	}
	if !e.alive(other) {
		t.Fatal("the unchecked box still ended the other session")
	}
	e.login(newPW)
}

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestContextWords (SECURITY.md 6.2.11): the configured words count like
// the account's own, on every path that sets a password.
func TestContextWords(t *testing.T) {
	e := newEnv(t, Config{ContextWords: []string{"Acme"}}, GuardConfig{})
	c := e.login(alicePW)
	for _, pw := range []string{"acmeacmeacme2026", "ACME123456789012"} {
		res := e.do(changeReq(`{"current_password":"`+alicePW+`","new_password":"`+pw+`"}`, c))
		if got := decodeErr(t, res); res.StatusCode != 400 || !strings.Contains(got.Message, "built from") {
			t.Errorf("%q: %d %+v, want 400 built from context", pw, res.StatusCode, got)
		}
	}
	// A passphrase that merely mentions the word passes.
	res := e.do(changeReq(`{"current_password":"`+alicePW+`","new_password":"my desk at acme faces the harbour"}`, c))
	if res.StatusCode != 200 {
		t.Fatalf("passphrase mentioning the word: %d %+v", res.StatusCode, decodeErr(t, res))
	}
}

// failingUpdates is a user store that cannot write a password hash.
type failingUpdates struct{ store.UserStore }

func (failingUpdates) SetPasswordHash(context.Context, string, string, time.Time) error {
	return store.ErrUnavailable
}

func (failingUpdates) ChangePassword(context.Context, string, string, time.Time) error {
	return store.ErrUnavailable
}

// TestChangePasswordStoreDown: when saving the password fails, the answer
// is 503 and the failure lands on the safe side: the other sessions are
// already gone and the old password still works, never a new password
// with an attacker's session alive.
func TestChangePasswordStoreDown(t *testing.T) {
	e := newEnvWith(t, Config{}, GuardConfig{}, func(d *Deps) {
		d.MFA = d.Users.(store.MFAStore)
		d.Users = failingUpdates{d.Users}
	})
	other, mine := e.login(alicePW), e.login(alicePW)
	res := e.do(changeReq(`{"current_password":"`+alicePW+`","new_password":"`+newPW+`"}`, mine))
	if got := decodeErr(t, res); res.StatusCode != 503 || got.Code != "STORE_UNAVAILABLE" {
		t.Fatalf("store down: %d %+v", res.StatusCode, got)
	}
	if e.alive(other) {
		t.Fatal("a failed change left the other session alive")
	}
	e.login(alicePW) // the old password still works
}

// TestChangePasswordFormKeepsChoice: after an error the page shows the
// box as the user left it.
func TestChangePasswordFormKeepsChoice(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	c := e.login(alicePW)
	for _, tc := range []struct {
		form    url.Values
		checked bool
	}{
		{url.Values{"current_password": {"wrong password here"}, "new_password": {newPW}}, false},
		{url.Values{"current_password": {"wrong password here"}, "new_password": {newPW}, "logout_others": {"on"}}, true},
	} {
		res := e.do(withCookie(formReq("/auth/change-password", tc.form), c))
		page := readBody(t, res)
		if got := strings.Contains(page, `value="on" checked`); res.StatusCode != 401 || got != tc.checked {
			t.Errorf("%v: %d, box checked %v, want %v", tc.form, res.StatusCode, got, tc.checked)
		}
	}
}

// TestChangePasswordNoNewSession: when only the new session cannot be
// created, the change stands, is recorded and told, and the answer says
// to sign in again (not a 503 that reads as "nothing happened").
func TestChangePasswordNoNewSession(t *testing.T) {
	m := newMFAEnv(t, MFAConfig{}, GuardConfig{})
	e := m.env
	c := e.login(alicePW)
	e.ss.mu.Lock()
	e.ss.createDown = true
	e.ss.mu.Unlock()
	res := e.do(changeReq(`{"current_password":"`+alicePW+`","new_password":"`+newPW+`"}`, c))
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	if res.StatusCode != 200 || body["password_changed"] != true || body["signed_in"] != false {
		t.Fatalf("%d %v", res.StatusCode, body)
	}
	if !m.aud.has("password.changed") || m.queue.last(t).Kind != notify.KindPasswordChanged {
		t.Fatal("the change was not recorded or told")
	}
	e.ss.mu.Lock()
	e.ss.createDown = false
	e.ss.mu.Unlock()
	e.login(newPW)
}

// TestChangePasswordKeepsLifetime: the replacement session ends when the
// old one would have, so changing the password cannot stretch a session.
func TestChangePasswordKeepsLifetime(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	c := e.login(alicePW)
	var before map[string]any
	_ = json.NewDecoder(e.do(withCookie(jsonReq("GET", "/auth/session", ""), c)).Body).Decode(&before)
	time.Sleep(1100 * time.Millisecond) // expires_at has second precision
	res := e.do(changeReq(`{"current_password":"`+alicePW+`","new_password":"`+newPW+`"}`, c))
	var after map[string]any
	_ = json.NewDecoder(res.Body).Decode(&after)
	old, _ := time.Parse(time.RFC3339, before["session"].(map[string]any)["expires_at"].(string))
	got, err := time.Parse(time.RFC3339, after["expires_at"].(string))
	if err != nil || got.After(old) {
		t.Fatalf("new session expires %v, the old one %v (%v)", got, old, err)
	}
}

// TestChangePasswordNeedsRealSecondFactor: an enrolled user whose session
// passed only a remembered device (or no second factor) steps up first,
// as for MFA settings.
func TestChangePasswordNeedsRealSecondFactor(t *testing.T) {
	m := newMFAEnv(t, MFAConfig{TrustedDevice: 24 * time.Hour}, GuardConfig{})
	e := m.env
	before := e.login(alicePW) // a full session from before enrolment
	_, _, strong := m.enrol(e.login(alicePW))
	res := e.do(changeReq(`{"current_password":"`+alicePW+`","new_password":"`+newPW+`"}`, before))
	if got := decodeErr(t, res); res.StatusCode != 403 || got.Code != CodeMFARequired {
		t.Fatalf("password-only session of an enrolled user: %d %+v", res.StatusCode, got)
	}
	if res := e.do(changeReq(`{"current_password":"`+alicePW+`","new_password":"`+newPW+`"}`, strong)); res.StatusCode != 200 {
		t.Fatalf("session that passed TOTP: %d %+v", res.StatusCode, decodeErr(t, res))
	}
}

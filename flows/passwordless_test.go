package flows

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

func newPasswordlessEnv(t *testing.T, deps func(*Deps)) *mfaEnv {
	t.Helper()
	return newResetEnv(t, func(c *Config) {
		c.Passwordless = PasswordlessConfig{Channels: []string{notify.Email, notify.SMS}}
		c.RedirectHosts = []string{"app.example.test"}
	}, deps)
}

func passwordlessMessage(t *testing.T, q *captureQueue) (token, code string) {
	t.Helper()
	m := q.last(t)
	if m.Kind != notify.KindPasswordless {
		t.Fatalf("last message is %s", m.Kind)
	}
	link, err := url.Parse(m.Data[notify.DataLink])
	if err != nil || link.Path != "/auth/passwordless/verify" {
		t.Fatalf("link %q", m.Data[notify.DataLink])
	}
	return link.Query().Get("token"), m.Data[notify.DataCode]
}

// TestPasswordlessSameAnswer (issue 11 item 3): every identifier gets 202
// {"sent": true}; only a known active account gets the message.
func TestPasswordlessSameAnswer(t *testing.T) {
	m := newPasswordlessEnv(t, nil)
	for _, tc := range []struct {
		email string
		sent  bool
	}{{"alice@example.test", true}, {"nobody@example.test", false}} {
		before := m.queue.count()
		res := m.do(jsonReq("POST", "/auth/passwordless/send", `{"email":"`+tc.email+`"}`))
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusAccepted || strings.TrimSpace(string(b)) != `{"sent":true}` {
			t.Fatalf("%s: %d %s", tc.email, res.StatusCode, b)
		}
		if (m.queue.count()-before == 1) != tc.sent {
			t.Fatalf("%s: sent=%v", tc.email, tc.sent)
		}
	}
	if ev := m.aud.find(audit.PasswordlessRequested); ev == nil || ev.Reason != "unknown_account" {
		t.Fatalf("audit %+v", ev)
	}
	msg := m.queue.last(t)
	if len(msg.Data[notify.DataCode]) != 6 || msg.Data[notify.DataExpires] != "10 minutes" {
		t.Fatalf("message %+v", msg)
	}
}

// TestPasswordlessLink: the magic link's GET shows one button and spends
// nothing; the POST signs in like a password (cookie, rd checked, audit
// method=passwordless) once.
func TestPasswordlessLink(t *testing.T) {
	m := newPasswordlessEnv(t, nil)
	m.do(jsonReq("POST", "/auth/passwordless/send", `{"email":"alice@example.test","rd":"https://app.example.test/after"}`))
	tok, _ := passwordlessMessage(t, m.queue)
	for range 2 {
		res := m.do(httptest_get("/auth/passwordless/verify?token=" + tok))
		page, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || !strings.Contains(string(page), `name="token" value="`+tok+`"`) || !strings.Contains(string(page), `value="https://app.example.test/after"`) {
			t.Fatalf("verify page: %d %s", res.StatusCode, page)
		}
	}
	res := m.do(formReq("/auth/passwordless/verify", url.Values{"token": {tok}, "rd": {"https://app.example.test/after"}}))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "https://app.example.test/after" {
		t.Fatalf("verify: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	c := sessionCookie(t, m.env, res)
	if !m.alive(c) {
		t.Fatal("no session after the link")
	}
	sess, _ := m.mem.ListUserSessions(context.Background(), m.alice.ID)
	if len(sess) != 1 || sess[0].AuthMethod != MethodPasswordless {
		t.Fatalf("sessions %+v", sess)
	}
	if ev := m.aud.find(audit.LoginSucceeded); ev == nil || ev.Detail["method"] != MethodPasswordless {
		t.Fatalf("audit %+v", ev)
	}
	res = m.do(jsonReq("POST", "/auth/passwordless/verify", `{"token":"`+tok+`"}`))
	if e := decodeErr(t, res); res.StatusCode != 401 || e.Code != CodeInvalidCredentials {
		t.Fatalf("second use: %d %+v", res.StatusCode, e)
	}
	// A link to a host not configured is not followed.
	m.do(jsonReq("POST", "/auth/passwordless/send", `{"email":"alice@example.test","rd":"https://evil.example/"}`))
	tok, _ = passwordlessMessage(t, m.queue)
	res = m.do(jsonReq("POST", "/auth/passwordless/verify", `{"token":"`+tok+`","rd":"https://evil.example/"}`))
	if b := body(t, res); res.StatusCode != 200 || b["redirect"] != "" {
		t.Fatalf("foreign rd: %d %v", res.StatusCode, b)
	}
}

// TestPasswordlessCodeAndMFA: the code signs in too; a user with a second
// factor meets the challenge stage; five wrong codes end the grant.
func TestPasswordlessCodeAndMFA(t *testing.T) {
	m := newPasswordlessEnv(t, nil)
	full := m.login(alicePW)
	m.enrol(full)
	m.do(jsonReq("POST", "/auth/passwordless/send", `{"email":"alice@example.test"}`))
	_, code := passwordlessMessage(t, m.queue)
	res := m.do(jsonReq("POST", "/auth/passwordless/verify", `{"email":"alice@example.test","code":"`+code+`"}`))
	if b := body(t, res); res.StatusCode != 200 || b["mfa_required"] != true {
		t.Fatalf("code with MFA: %d %v", res.StatusCode, b)
	}
	stage := sessionCookie(t, m.env, res)
	if m.alive(stage) {
		t.Fatal("a passwordless stage passed for a full session")
	}

	m.do(jsonReq("POST", "/auth/passwordless/send", `{"email":"alice@example.test"}`))
	tok, code := passwordlessMessage(t, m.queue)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for range 5 {
		res := m.do(jsonReq("POST", "/auth/passwordless/verify", `{"email":"alice@example.test","code":"`+wrong+`"}`))
		if res.StatusCode != 401 {
			t.Fatalf("wrong code: %d", res.StatusCode)
		}
	}
	if res := m.do(jsonReq("POST", "/auth/passwordless/verify", `{"token":"`+tok+`"}`)); res.StatusCode != 401 {
		t.Fatalf("link after five wrong codes: %d", res.StatusCode)
	}
	if ev := m.aud.find(audit.LoginFailed); ev == nil || ev.Reason != "invalid_token" || ev.Detail["method"] != MethodPasswordless {
		t.Fatalf("audit %+v", ev)
	}
}

// TestPasswordlessRules: off unless configured (404), switched off at
// runtime (403, and the login page stops offering it), bad input (400),
// a disabled account (401 at verify, nothing sent), store failures (503).
func TestPasswordlessRules(t *testing.T) {
	off := newResetEnv(t, nil, nil)
	if res := off.do(jsonReq("POST", "/auth/passwordless/send", `{"email":"alice@example.test"}`)); res.StatusCode != 404 {
		t.Fatalf("not configured: %d", res.StatusCode)
	}
	sw := &memSwitch{off: map[string]bool{}}
	m := newPasswordlessEnv(t, func(d *Deps) { d.Methods = sw })
	page, _ := io.ReadAll(m.do(httptest_get("/auth/login")).Body)
	if !strings.Contains(string(page), `action="/auth/passwordless/send"`) || !strings.Contains(string(page), "Email me a sign-in link") {
		t.Fatalf("login page does not offer passwordless: %s", page)
	}
	sw.set(MethodPasswordless, false)
	page, _ = io.ReadAll(m.do(httptest_get("/auth/login")).Body)
	if strings.Contains(string(page), "passwordless/send") {
		t.Fatal("login page offers a switched-off passwordless")
	}
	if e := decodeErr(t, m.do(jsonReq("POST", "/auth/passwordless/send", `{"email":"alice@example.test"}`))); e.Code != CodeMethodDisabled {
		t.Fatalf("switched off: %+v", e)
	}
	sw.set(MethodPasswordless, true)
	for _, b := range []string{`{"email":"x"}`, `{"phone":"12"}`, `{"email":"alice@example.test","extra":1}`, `{}`} {
		if e := decodeErr(t, m.do(jsonReq("POST", "/auth/passwordless/send", b))); e.Code != CodeInvalidInput {
			t.Errorf("send %s: %+v", b, e)
		}
	}
	for _, b := range []string{`{"token":"nope"}`, `{"email":"alice@example.test","code":"12"}`, `{"token":"` + keys.NewToken() + `","code":"123456"}`} {
		if e := decodeErr(t, m.do(jsonReq("POST", "/auth/passwordless/verify", b))); e.Code != CodeInvalidInput {
			t.Errorf("verify %s: %+v", b, e)
		}
	}
	// Disabled after the link went out: refused.
	m.do(jsonReq("POST", "/auth/passwordless/send", `{"email":"alice@example.test"}`))
	tok, _ := passwordlessMessage(t, m.queue)
	u, _ := m.mem.UserByID(context.Background(), m.alice.ID)
	u.Status = store.StatusDisabled
	_ = m.mem.UpdateUser(context.Background(), u)
	if res := m.do(jsonReq("POST", "/auth/passwordless/verify", `{"token":"`+tok+`"}`)); res.StatusCode != 401 {
		t.Fatalf("disabled account: %d", res.StatusCode)
	}
	n := m.queue.count()
	m.do(jsonReq("POST", "/auth/passwordless/send", `{"email":"alice@example.test"}`))
	if m.queue.count() != n {
		t.Fatal("a disabled account was sent a link")
	}

	down := newPasswordlessEnv(t, func(d *Deps) { d.Grants = downGrants{} })
	for _, res := range []*http.Response{
		down.do(jsonReq("POST", "/auth/passwordless/send", `{"email":"alice@example.test"}`)),
		down.do(jsonReq("POST", "/auth/passwordless/verify", `{"token":"`+keys.NewToken()+`"}`)),
	} {
		if e := decodeErr(t, res); res.StatusCode != 503 || e.Code != CodeStoreUnavailable {
			t.Fatalf("store down: %d %+v", res.StatusCode, e)
		}
	}
}

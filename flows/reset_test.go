package flows

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/internal/totp"
	"github.com/caddyauth/gateway/store"
)

// newResetEnv is an mfaEnv with the reset flow on; cfg and deps adjust it.
func newResetEnv(t *testing.T, cfg func(*Config), deps func(*Deps)) *mfaEnv {
	t.Helper()
	clk := newClock()
	q := &captureQueue{}
	a := &memAudit{}
	c := Config{Now: clk.Now, PasswordReset: PasswordResetConfig{On: true}, SendFloor: -1}
	if cfg != nil {
		cfg(&c)
	}
	e := newEnvWith(t, c, GuardConfig{}, func(d *Deps) {
		d.Outbox, d.Audit = q, a
		if deps != nil {
			deps(d)
		}
	})
	return &mfaEnv{env: e, clk: clk, queue: q, aud: a}
}

func (m *mfaEnv) forgot(js string) *http.Response {
	return m.do(jsonReq("POST", "/auth/forgot-password", js))
}

func (m *mfaEnv) resetReq(js string) *http.Response {
	return m.do(jsonReq("POST", "/auth/reset-password", js))
}

func (q *captureQueue) count() int { q.mu.Lock(); defer q.mu.Unlock(); return len(q.msgs) }

// resetMessage returns the token of the link and the code of the last
// reset message.
func resetMessage(t *testing.T, q *captureQueue) (token, code string) {
	t.Helper()
	m := q.last(t)
	if m.Kind != notify.KindPasswordReset {
		t.Fatalf("last message is %s, want %s", m.Kind, notify.KindPasswordReset)
	}
	link, err := url.Parse(m.Data[notify.DataLink])
	if err != nil || link.Path != "/auth/reset-password" || link.Host == "" {
		t.Fatalf("link %q", m.Data[notify.DataLink])
	}
	return link.Query().Get("token"), m.Data[notify.DataCode]
}

func (a *memAudit) find(typ string) *audit.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := len(a.evs) - 1; i >= 0; i-- {
		if a.evs[i].Type == typ {
			e := a.evs[i]
			return &e
		}
	}
	return nil
}

const resetPW = "lantern orchard velvet compass"

// TestForgotPasswordSameAnswer (issue 11 item 1): every identifier gets
// 202 {"sent": true}, byte for byte; only a known active account with an
// address gets a message; each request is audited with why.
func TestForgotPasswordSameAnswer(t *testing.T) {
	m := newResetEnv(t, nil, nil)
	ctx := context.Background()
	dis := &store.User{ID: keys.NewID(), Email: "dis@example.test", Status: store.StatusDisabled}
	if err := m.mem.CreateUser(ctx, dis); err != nil {
		t.Fatal(err)
	}
	var first string
	for _, tc := range []struct {
		email, reason string
		sent          bool
	}{
		{"alice@example.test", "", true},
		{"ALICE@Example.test", "", true},
		{"nobody@example.test", "unknown_account", false},
		{"dis@example.test", "disabled", false},
	} {
		before := m.queue.count()
		res := m.forgot(`{"email":"` + tc.email + `"}`)
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusAccepted || string(b) != `{"sent":true}`+"\n" && string(b) != `{"sent":true}` {
			t.Fatalf("%s: %d %s", tc.email, res.StatusCode, b)
		}
		if first == "" {
			first = string(b)
		} else if string(b) != first {
			t.Fatalf("%s: body %q differs from %q", tc.email, b, first)
		}
		if got := m.queue.count() - before; (got == 1) != tc.sent {
			t.Fatalf("%s: %d messages queued, sent=%v", tc.email, got, tc.sent)
		}
		ev := m.aud.find(audit.PasswordResetRequested)
		if ev == nil || ev.Reason != tc.reason {
			t.Fatalf("%s: audit %+v, want reason %q", tc.email, ev, tc.reason)
		}
	}
	msg := m.queue.last(t)
	if msg.To != "alice@example.test" || msg.Channel != notify.Email || len(msg.Data[notify.DataCode]) != 6 || msg.Data[notify.DataExpires] != "15 minutes" {
		t.Fatalf("message %+v", msg)
	}
	tok, _ := resetMessage(t, m.queue)
	if !wellFormedToken(tok) {
		t.Fatalf("token %q", tok)
	}
	// Nothing secret in the audit trail.
	m.aud.mu.Lock()
	defer m.aud.mu.Unlock()
	for _, e := range m.aud.evs {
		if strings.Contains(mustJSON(e), tok) || strings.Contains(mustJSON(e), msg.Data[notify.DataCode]) {
			t.Fatalf("audit event carries the token or code: %+v", e)
		}
	}
}

// TestForgotPasswordTiming: known and unknown identifiers take the same
// time (the floor), so the work for a known one cannot be measured.
func TestForgotPasswordTiming(t *testing.T) {
	const floor = 80 * time.Millisecond
	m := newResetEnv(t, func(c *Config) { c.SendFloor = floor }, nil)
	measure := func(email string) time.Duration {
		start := time.Now()
		res := m.forgot(`{"email":"` + email + `"}`)
		if res.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: %d", email, res.StatusCode)
		}
		return time.Since(start)
	}
	var known, unknown time.Duration
	const rounds = 5
	for range rounds {
		known += measure("alice@example.test")
		unknown += measure("nobody@example.test")
	}
	known, unknown = known/rounds, unknown/rounds
	if known < floor || unknown < floor {
		t.Fatalf("answers before the floor: known %v, unknown %v", known, unknown)
	}
	if d := known - unknown; d > 20*time.Millisecond || d < -20*time.Millisecond {
		t.Fatalf("known %v vs unknown %v: differ by %v", known, unknown, d)
	}
}

// TestResetWithLink: the mailed link resets the password; a GET of it
// (a mail scanner) spends nothing; afterwards the link is dead, every
// session is gone, the old password fails, the new one works and meets
// the TOTP challenge; lockouts are lifted, remembered devices forgotten,
// the notice queued and the trail has password.reset.
func TestResetWithLink(t *testing.T) {
	m := newResetEnv(t, nil, nil)
	ctx := context.Background()
	full := m.login(alicePW)
	secret, _, mfaCookie := m.enrol(full)
	if err := m.mem.CreateTrustedDevice(ctx, &store.TrustedDevice{ID: "dev", UserID: m.alice.ID, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if res := m.forgot(`{"email":"alice@example.test"}`); res.StatusCode != http.StatusAccepted {
		t.Fatalf("forgot: %d", res.StatusCode)
	}
	tok, _ := resetMessage(t, m.queue)
	for range 3 {
		r := httptest_get("/auth/reset-password?token=" + tok)
		res := m.do(r)
		page, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || !strings.Contains(string(page), `name="token" value="`+tok+`"`) || !strings.Contains(string(page), `name="new_password"`) {
			t.Fatalf("reset page: %d %s", res.StatusCode, page)
		}
	}
	res := m.resetReq(`{"token":"` + tok + `","new_password":"` + resetPW + `","confirm":"` + resetPW + `"}`)
	if b := body(t, res); res.StatusCode != 200 || b["password_reset"] != true || b["signed_in"] != false {
		t.Fatalf("reset: %d %v", res.StatusCode, b)
	}
	for _, c := range res.Cookies() {
		if c.Name == m.svc.CookieName() && c.MaxAge >= 0 && c.Value != "" {
			t.Fatal("a reset signed the user in")
		}
	}
	if m.alive(mfaCookie) {
		t.Fatal("a session survived the reset")
	}
	if l, _ := m.mem.ListTrustedDevices(ctx, m.alice.ID, time.Now()); len(l) != 0 {
		t.Fatal("remembered devices survived the reset")
	}
	if ev := m.aud.find(audit.PasswordReset); ev == nil || ev.UserID != m.alice.ID || ev.Actor != ActorReset {
		t.Fatalf("audit password.reset = %+v", ev)
	}
	if msg := m.queue.last(t); msg.Kind != notify.KindPasswordChanged || msg.To != "alice@example.test" {
		t.Fatalf("notice %+v", msg)
	}
	res = m.resetReq(`{"token":"` + tok + `","new_password":"another lantern orchard"}`)
	if e := decodeErr(t, res); res.StatusCode != 400 || e.Code != CodeResetTokenInvalid {
		t.Fatalf("second use: %d %+v", res.StatusCode, e)
	}
	if res := m.do(httptest_get("/auth/reset-password?token=" + tok)); res.StatusCode != 400 {
		t.Fatalf("page of a used link: %d", res.StatusCode)
	}
	res = m.do(jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"`+alicePW+`"}`))
	if res.StatusCode != 401 {
		t.Fatalf("old password after reset: %d", res.StatusCode)
	}
	// The new password leads to the challenge, not past it.
	res = m.do(jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"`+resetPW+`"}`))
	stage := sessionCookie(t, m.env, res)
	if b := body(t, res); res.StatusCode != 200 || b["mfa_required"] != true {
		t.Fatalf("login with the new password: %d %v", res.StatusCode, b)
	}
	m.clk.Advance(30 * time.Second)
	code, _ := totp.Code(secret, m.clk.Now())
	if res := m.challenge(stage, `{"method":"totp","code":"`+code+`"}`); res.StatusCode != 200 {
		t.Fatalf("challenge after reset: %d", res.StatusCode)
	}
}

func httptest_get(target string) *http.Request {
	r, _ := http.NewRequest("GET", "http://example.test"+target, nil)
	r.RemoteAddr = "192.0.2.1:1234"
	r.Host = "example.test"
	r.Header.Set("Accept", "text/html")
	return r
}

// TestResetWithCode: the email and code reset too; five wrong codes end
// the grant; a new request replaces the old link and code; a refused
// password costs neither the link nor the code.
func TestResetWithCode(t *testing.T) {
	m := newResetEnv(t, nil, nil)
	m.forgot(`{"email":"alice@example.test"}`)
	tok1, code1 := resetMessage(t, m.queue)
	m.forgot(`{"email":"alice@example.test"}`)
	tok2, code2 := resetMessage(t, m.queue)
	if res := m.resetReq(`{"token":"` + tok1 + `","new_password":"` + resetPW + `"}`); res.StatusCode != 400 {
		t.Fatalf("replaced link: %d", res.StatusCode)
	}
	if code1 != code2 {
		if res := m.resetReq(`{"email":"alice@example.test","code":"` + code1 + `","new_password":"` + resetPW + `"}`); res.StatusCode != 400 {
			t.Fatalf("replaced code: %d", res.StatusCode)
		}
	}
	// A password the policy refuses keeps the grant: by link...
	res := m.resetReq(`{"token":"` + tok2 + `","new_password":"short"}`)
	if e := decodeErr(t, res); res.StatusCode != 400 || e.Code != CodeInvalidInput {
		t.Fatalf("weak password by link: %d %+v", res.StatusCode, e)
	}
	// ...and by code, even one built from the account's name.
	res = m.resetReq(`{"email":"alice@example.test","code":"` + code2 + `","new_password":"alice liddell alice liddell"}`)
	if e := decodeErr(t, res); res.StatusCode != 400 || e.Code != CodeInvalidInput {
		t.Fatalf("password from the name by code: %d %+v", res.StatusCode, e)
	}
	res = m.resetReq(`{"email":"alice@example.test","code":"` + code2 + `","new_password":"` + resetPW + `"}`)
	if res.StatusCode != 200 {
		t.Fatalf("reset by code: %d %v", res.StatusCode, body(t, res))
	}
	if res := m.resetReq(`{"token":"` + tok2 + `","new_password":"` + resetPW + `"}`); res.StatusCode != 400 {
		t.Fatalf("link after its code: %d", res.StatusCode)
	}
	m.login(resetPW)

	// Five wrong codes: the right one no longer works, nor the link.
	m.forgot(`{"email":"alice@example.test"}`)
	tok3, code3 := resetMessage(t, m.queue)
	wrong := "000000"
	if code3 == wrong {
		wrong = "111111"
	}
	for i := range 5 {
		res := m.resetReq(`{"email":"alice@example.test","code":"` + wrong + `","new_password":"` + alicePW + `"}`)
		if e := decodeErr(t, res); res.StatusCode != 400 || e.Code != CodeResetTokenInvalid {
			t.Fatalf("wrong code %d: %d %+v", i, res.StatusCode, e)
		}
	}
	if res := m.resetReq(`{"email":"alice@example.test","code":"` + code3 + `","new_password":"` + alicePW + `"}`); res.StatusCode != 400 {
		t.Fatalf("right code after five wrong: %d", res.StatusCode)
	}
	if ev := m.aud.find(audit.PasswordResetFailed); ev == nil || ev.Reason != "invalid_code" || ev.UserID != m.alice.ID {
		t.Fatalf("audit of a wrong code = %+v", ev)
	}
	if res := m.resetReq(`{"token":"` + tok3 + `","new_password":"` + alicePW + `"}`); res.StatusCode != 400 {
		t.Fatalf("link after five wrong codes: %d", res.StatusCode)
	}
	// An unknown email answers like a wrong code.
	res = m.resetReq(`{"email":"nobody@example.test","code":"123456","new_password":"` + resetPW + `"}`)
	if e := decodeErr(t, res); res.StatusCode != 400 || e.Code != CodeResetTokenInvalid {
		t.Fatalf("unknown email: %d %+v", res.StatusCode, e)
	}
}

// TestResetExpires: the link and code die after the TTL.
func TestResetExpires(t *testing.T) {
	m := newResetEnv(t, nil, nil)
	m.forgot(`{"email":"alice@example.test"}`)
	tok, code := resetMessage(t, m.queue)
	m.clk.Advance(15 * time.Minute)
	if res := m.resetReq(`{"token":"` + tok + `","new_password":"` + resetPW + `"}`); res.StatusCode != 400 {
		t.Fatalf("expired link: %d", res.StatusCode)
	}
	if res := m.resetReq(`{"email":"alice@example.test","code":"` + code + `","new_password":"` + resetPW + `"}`); res.StatusCode != 400 {
		t.Fatalf("expired code: %d", res.StatusCode)
	}
}

// TestResetClearsLockout: a reset lifts the login lockout of the account.
func TestResetClearsLockout(t *testing.T) {
	m := newResetEnv(t, func(c *Config) {
		c.Limits = &Limits{LockoutMax: 3, LockoutWindow: time.Hour, LockoutDuration: time.Hour}
	}, nil)
	for range 3 {
		m.do(jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"wrong wrong wrong"}`))
	}
	res := m.do(jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"`+alicePW+`"}`))
	if res.StatusCode != 429 {
		t.Fatalf("locked login: %d", res.StatusCode)
	}
	m.forgot(`{"email":"alice@example.test"}`)
	tok, _ := resetMessage(t, m.queue)
	if res := m.resetReq(`{"token":"` + tok + `","new_password":"` + resetPW + `"}`); res.StatusCode != 200 {
		t.Fatalf("reset: %d", res.StatusCode)
	}
	m.login(resetPW)
}

// TestResetBadInput (item 7): malformed tokens, codes, phones, unknown
// fields, both ways at once and oversized bodies are 400 INVALID_INPUT
// (413 for the body), before any store work.
func TestResetBadInput(t *testing.T) {
	m := newResetEnv(t, nil, nil)
	for _, tc := range []struct {
		path, body string
		status     int
		code       string
	}{
		{"/auth/forgot-password", `{"email":"not an email"}`, 400, CodeInvalidInput},
		{"/auth/forgot-password", `{"phone":"5550100"}`, 400, CodeInvalidInput},
		{"/auth/forgot-password", `{"email":"a@example.test","phone":"+15550100000"}`, 400, CodeInvalidInput},
		{"/auth/forgot-password", `{}`, 400, CodeInvalidInput},
		{"/auth/forgot-password", `{"email":"a@example.test","extra":1}`, 400, CodeInvalidInput},
		{"/auth/forgot-password", `{"email":"a@example.test","email":"b@example.test"}`, 400, CodeInvalidInput},
		{"/auth/forgot-password", `{"email":"` + strings.Repeat("a", 70000) + `@example.test"}`, 413, CodeRequestTooLarge},
		{"/auth/reset-password", `{"token":"short","new_password":"` + resetPW + `"}`, 400, CodeInvalidInput},
		{"/auth/reset-password", `{"token":"` + strings.Repeat("!", 43) + `","new_password":"` + resetPW + `"}`, 400, CodeInvalidInput},
		{"/auth/reset-password", `{"token":"` + keys.NewToken() + `","code":"123456","new_password":"` + resetPW + `"}`, 400, CodeInvalidInput},
		{"/auth/reset-password", `{"email":"alice@example.test","code":"12345","new_password":"` + resetPW + `"}`, 400, CodeInvalidInput},
		{"/auth/reset-password", `{"email":"alice@example.test","code":"abcdef","new_password":"` + resetPW + `"}`, 400, CodeInvalidInput},
		{"/auth/reset-password", `{"phone":"0123","code":"123456","new_password":"` + resetPW + `"}`, 400, CodeInvalidInput},
		{"/auth/reset-password", `{"token":"` + keys.NewToken() + `"}`, 400, CodeInvalidInput},
		{"/auth/reset-password", `{"token":"` + keys.NewToken() + `","new_password":"x","surprise":true}`, 400, CodeInvalidInput},
		{"/auth/reset-password", `{"token":"` + keys.NewToken() + `","new_password":"` + resetPW + `"}`, 400, CodeResetTokenInvalid},
	} {
		res := m.do(jsonReq("POST", tc.path, tc.body))
		e := decodeErr(t, res)
		if res.StatusCode != tc.status || e.Code != tc.code {
			t.Errorf("%s %.80s: %d %+v, want %d %s", tc.path, tc.body, res.StatusCode, e, tc.status, tc.code)
		}
	}
	if res := m.do(httptest_get("/auth/reset-password?token=bad")); res.StatusCode != 400 {
		t.Errorf("page with a malformed token: %d", res.StatusCode)
	}
	if m.queue.count() != 0 {
		t.Errorf("bad input queued %d messages", m.queue.count())
	}
}

// TestResetRateLimited (item 6): sends per identifier and checks per
// identifier are bounded, for known and unknown identifiers alike.
func TestResetRateLimited(t *testing.T) {
	m := newResetEnv(t, func(c *Config) {
		c.Limits = &Limits{RecoverySend: ratelimit.Rate{N: 3, Per: time.Minute}, RecoveryCheck: ratelimit.Rate{N: 5, Per: time.Minute}}
	}, nil)
	for _, email := range []string{"alice@example.test", "nobody@example.test"} {
		for i := range 4 {
			res := m.forgot(`{"email":"` + email + `"}`)
			want := http.StatusAccepted
			if i == 3 {
				want = http.StatusTooManyRequests
			}
			if res.StatusCode != want {
				t.Fatalf("%s send %d: %d, want %d", email, i, res.StatusCode, want)
			}
		}
	}
	if m.queue.count() != 3 {
		t.Fatalf("%d messages, want 3", m.queue.count())
	}
	for i := range 6 {
		res := m.resetReq(`{"email":"alice@example.test","code":"000000","new_password":"` + resetPW + `"}`)
		if i == 5 && res.StatusCode != http.StatusTooManyRequests || i < 5 && res.StatusCode != 400 {
			t.Fatalf("check %d: %d", i, res.StatusCode)
		}
	}
	if ev := m.aud.find(audit.RateLimited); ev == nil || ev.Reason != "reset_password" {
		t.Fatalf("audit of the refusal = %+v", ev)
	}
}

// TestResetSwitchedOff: the runtime switch refuses every step with 403
// METHOD_DISABLED; off in the configuration, the paths do not exist and
// the login page does not link them.
func TestResetSwitchedOff(t *testing.T) {
	sw := &memSwitch{off: map[string]bool{MethodPasswordReset: true}}
	m := newResetEnv(t, nil, func(d *Deps) { d.Methods = sw })
	sw.set(MethodPasswordReset, true)
	m.forgot(`{"email":"alice@example.test"}`)
	tok, _ := resetMessage(t, m.queue)
	sw.set(MethodPasswordReset, false)
	sent := m.queue.count()
	for _, res := range []*http.Response{
		m.forgot(`{"email":"alice@example.test"}`),
		m.resetReq(`{"email":"alice@example.test","code":"123456","new_password":"` + resetPW + `"}`),
	} {
		if e := decodeErr(t, res); res.StatusCode != 403 || e.Code != CodeMethodDisabled {
			t.Fatalf("switched off: %d %+v", res.StatusCode, e)
		}
	}
	// The reset page still redeems invitations, but a reset link sent
	// before the switch no longer works.
	if e := decodeErr(t, m.resetReq(`{"token":"`+tok+`","new_password":"`+resetPW+`"}`)); e.Code != CodeResetTokenInvalid {
		t.Fatalf("reset link while switched off: %+v", e)
	}
	if m.queue.count() != sent {
		t.Fatal("a switched-off reset queued a message")
	}
	page, _ := io.ReadAll(m.do(httptest_get("/auth/login")).Body)
	if strings.Contains(string(page), "forgot-password") {
		t.Fatal("the login page links a switched-off reset")
	}
	sw.set(MethodPasswordReset, true)
	page, _ = io.ReadAll(m.do(httptest_get("/auth/login")).Body)
	if !strings.Contains(string(page), `href="/auth/forgot-password">Forgot password?</a>`) {
		t.Fatalf("the login page does not link the reset: %s", page)
	}

	off := newEnv(t, Config{}, GuardConfig{})
	if res := off.do(jsonReq("POST", "/auth/forgot-password", `{"email":"alice@example.test"}`)); res.StatusCode != 404 {
		t.Fatalf("reset not configured: %d", res.StatusCode)
	}
}

// memSwitch is a runtime method switch in memory.
type memSwitch struct{ off map[string]bool }

func (s *memSwitch) Enabled(_ context.Context, method string) (bool, error) {
	return !s.off[method], nil
}
func (s *memSwitch) set(method string, on bool) { s.off[method] = !on }

// TestResetStoreFailures (item 7): a store failure at any step answers
// 503 and changes nothing: the lookup, the grant, the queue, the
// redemption.
func TestResetStoreFailures(t *testing.T) {
	t.Run("lookup", func(t *testing.T) {
		m := newResetEnv(t, nil, func(d *Deps) {
			d.MFA = d.Users.(store.MFAStore)
			d.Users = &downLookups{UserStore: d.Users}
		})
		m.env.svc.deps.Users.(*downLookups).down = true
		for _, res := range []*http.Response{
			m.forgot(`{"email":"alice@example.test"}`), m.forgot(`{"email":"nobody@example.test"}`),
			m.resetReq(`{"email":"alice@example.test","code":"123456","new_password":"` + resetPW + `"}`),
		} {
			if e := decodeErr(t, res); res.StatusCode != 503 || e.Code != CodeStoreUnavailable {
				t.Fatalf("lookup down: %d %+v", res.StatusCode, e)
			}
		}
	})
	t.Run("grant", func(t *testing.T) {
		m := newResetEnv(t, nil, func(d *Deps) { d.Grants = downGrants{} })
		for _, res := range []*http.Response{
			m.forgot(`{"email":"alice@example.test"}`),
			m.resetReq(`{"token":"` + keys.NewToken() + `","new_password":"` + resetPW + `"}`),
			m.resetReq(`{"email":"alice@example.test","code":"123456","new_password":"` + resetPW + `"}`),
			m.do(withAccept(httptest_get("/auth/reset-password?token="+keys.NewToken()), "application/json")),
		} {
			if e := decodeErr(t, res); res.StatusCode != 503 || e.Code != CodeStoreUnavailable {
				t.Fatalf("grants down: %d %+v", res.StatusCode, e)
			}
		}
	})
	t.Run("queue", func(t *testing.T) {
		m := newResetEnv(t, nil, nil)
		m.svc.deps.Outbox = downQueue{}
		if res := m.forgot(`{"email":"alice@example.test"}`); res.StatusCode != 503 {
			t.Fatalf("queue down: %d", res.StatusCode)
		}
	})
	t.Run("password write", func(t *testing.T) {
		m := newResetEnv(t, nil, nil)
		m.forgot(`{"email":"alice@example.test"}`)
		tok, _ := resetMessage(t, m.queue)
		m.svc.deps.Users = failingUpdates{m.svc.deps.Users}
		res := m.resetReq(`{"token":"` + tok + `","new_password":"` + resetPW + `"}`)
		if e := decodeErr(t, res); res.StatusCode != 503 || e.Code != CodeStoreUnavailable {
			t.Fatalf("password write down: %d %+v", res.StatusCode, e)
		}
		m.login(alicePW) // unchanged
	})
}

func withAccept(r *http.Request, a string) *http.Request { r.Header.Set("Accept", a); return r }

// downLookups fails user lookups when down.
type downLookups struct {
	store.UserStore
	down bool
}

func (d *downLookups) UserByEmail(ctx context.Context, e string) (*store.User, error) {
	if d.down {
		return nil, store.ErrUnavailable
	}
	return d.UserStore.UserByEmail(ctx, e)
}

// downQueue refuses every message.
type downQueue struct{}

// Has: the channels exist; delivery is what fails.
func (downQueue) Has(string) bool { return true }

func (downQueue) Enqueue(context.Context, notify.Message) error { return store.ErrUnavailable }

// TestResetPagesWithoutJavaScript: the whole journey through plain HTML
// forms: the forgot page, its post, the link's page, its post.
func TestResetPagesWithoutJavaScript(t *testing.T) {
	m := newResetEnv(t, nil, nil)
	res := m.do(httptest_get("/auth/forgot-password"))
	page, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(page), `action="/auth/forgot-password"`) || strings.Contains(string(page), "<script") {
		t.Fatalf("forgot page: %d %s", res.StatusCode, page)
	}
	res = m.do(formReq("/auth/forgot-password", url.Values{"email": {"alice@example.test"}}))
	page, _ = io.ReadAll(res.Body)
	if res.StatusCode != http.StatusAccepted || !strings.Contains(string(page), "Check your messages") {
		t.Fatalf("forgot post: %d %s", res.StatusCode, page)
	}
	tok, _ := resetMessage(t, m.queue)
	res = m.do(formReq("/auth/reset-password", url.Values{"token": {tok}, "new_password": {"short"}, "confirm": {"short"}}))
	page, _ = io.ReadAll(res.Body)
	if res.StatusCode != 400 || !strings.Contains(string(page), `value="`+tok+`"`) || !strings.Contains(string(page), `role="alert"`) {
		t.Fatalf("weak password page keeps the token: %d %s", res.StatusCode, page)
	}
	res = m.do(formReq("/auth/reset-password", url.Values{"token": {tok}, "new_password": {resetPW}, "confirm": {resetPW}}))
	page, _ = io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(page), "Password changed") || !strings.Contains(string(page), `href="/auth/login"`) {
		t.Fatalf("reset post: %d %s", res.StatusCode, page)
	}
	res = m.do(formReq("/auth/reset-password", url.Values{"token": {tok}, "new_password": {resetPW}}))
	page, _ = io.ReadAll(res.Body)
	if res.StatusCode != 400 || !strings.Contains(string(page), `href="/auth/forgot-password"`) {
		t.Fatalf("used link page offers a new one: %d %s", res.StatusCode, page)
	}
}

// TestResetBySMS: asked by phone with an SMS sender, the code goes by SMS
// without a link, and resets with the phone and the code.
func TestResetBySMS(t *testing.T) {
	m := newResetEnv(t, nil, nil)
	ctx := context.Background()
	u, _ := m.mem.UserByID(ctx, m.alice.ID)
	u.Phone, u.PhoneVerifiedAt = "+15550100123", time.Unix(1, 0)
	if err := m.mem.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	// The form's one field takes a phone too (as at the login form).
	if res := m.forgot(`{"email":"+1 555 010 0123"}`); res.StatusCode != http.StatusAccepted {
		t.Fatalf("forgot by phone: %d", res.StatusCode)
	}
	msg := m.queue.last(t)
	if msg.Channel != notify.SMS || msg.To != "+15550100123" || msg.Data[notify.DataLink] != "" || len(msg.Data[notify.DataCode]) != 6 {
		t.Fatalf("sms %+v", msg)
	}
	res := m.resetReq(`{"phone":"+15550100123","code":"` + msg.Data[notify.DataCode] + `","new_password":"` + resetPW + `"}`)
	if res.StatusCode != 200 {
		t.Fatalf("reset by phone: %d %v", res.StatusCode, body(t, res))
	}
	m.login(resetPW)
}

// TestTokenPagesSendNoURLAsReferer: the pages whose URL holds a link's
// token tell the browser to send only the origin as Referer (the
// stylesheet and the form post would otherwise carry the token into
// access logs).
func TestTokenPagesSendNoURLAsReferer(t *testing.T) {
	m := newPasswordlessEnv(t, nil)
	m.forgot(`{"email":"alice@example.test"}`)
	tok, _ := resetMessage(t, m.queue)
	m.do(jsonReq("POST", "/auth/passwordless/send", `{"email":"alice@example.test"}`))
	ptok, _ := passwordlessMessage(t, m.queue)
	for _, path := range []string{"/auth/reset-password?token=" + tok, "/auth/passwordless/verify?token=" + ptok, "/auth/reset-password?token=bad"} {
		if got := m.do(httptest_get(path)).Header.Get("Referrer-Policy"); got != "strict-origin" {
			t.Errorf("%s: Referrer-Policy %q, want strict-origin", path, got)
		}
	}
	if got := m.do(httptest_get("/auth/login")).Header.Get("Referrer-Policy"); got != "same-origin" {
		t.Errorf("login page: Referrer-Policy %q", got)
	}
}

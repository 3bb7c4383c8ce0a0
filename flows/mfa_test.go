package flows

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/totp"
)

// clock is a settable Now for TOTP steps.
type clock struct{ ns atomic.Int64 }

func newClock() *clock                   { c := &clock{}; c.ns.Store(time.Now().UnixNano()); return c }
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// captureQueue is an in-process outbox for unit tests (the real outbox and
// SMTP delivery have their own tests and the e2e suite).
type captureQueue struct {
	mu   sync.Mutex
	msgs []notify.Message
}

// Has: the capture queue takes every channel.
func (q *captureQueue) Has(string) bool { return true }

func (q *captureQueue) Enqueue(_ context.Context, m notify.Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, m)
	return nil
}

func (q *captureQueue) last(t *testing.T) notify.Message {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) == 0 {
		t.Fatal("no message queued")
	}
	return q.msgs[len(q.msgs)-1]
}

// memAudit collects audit events.
type memAudit struct {
	mu  sync.Mutex
	evs []audit.Event
}

func (a *memAudit) Record(_ context.Context, e audit.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.evs = append(a.evs, e)
	return nil
}

func (a *memAudit) has(typ string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.evs {
		if e.Type == typ {
			return true
		}
	}
	return false
}

type mfaEnv struct {
	*env
	clk   *clock
	queue *captureQueue
	aud   *memAudit
}

func newMFAEnv(t *testing.T, mfa MFAConfig, gcfg GuardConfig) *mfaEnv {
	t.Helper()
	clk := newClock()
	q := &captureQueue{}
	a := &memAudit{}
	e := newEnvWith(t, Config{MFA: mfa, Now: clk.Now}, gcfg, func(d *Deps) { d.Outbox = q; d.Audit = a })
	return &mfaEnv{env: e, clk: clk, queue: q, aud: a}
}

func sessionCookie(t *testing.T, e *env, res *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range res.Cookies() {
		if c.Name == e.svc.CookieName() && c.MaxAge >= 0 {
			return c
		}
	}
	t.Fatalf("no session cookie in %d response", res.StatusCode)
	return nil
}

func body(t *testing.T, res *http.Response) map[string]any {
	t.Helper()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON (%d): %s", res.StatusCode, b)
	}
	return m
}

// enrol sets up TOTP for the session c and returns the secret, the
// recovery codes and the rotated (MFA-level) cookie.
func (m *mfaEnv) enrol(c *http.Cookie) (string, []string, *http.Cookie) {
	t := m.t
	t.Helper()
	res := m.do(withCookie(jsonReq("POST", "/auth/mfa/totp/setup", `{"name":"phone"}`), c))
	if res.StatusCode != 200 {
		t.Fatalf("setup: %d %v", res.StatusCode, body(t, res))
	}
	setup := body(t, res)
	secret := setup["secret"].(string)
	if !strings.HasPrefix(setup["otpauth_url"].(string), "otpauth://totp/") || len(setup["qr_png"].(string)) < 100 {
		t.Fatalf("setup answer = %v", setup)
	}
	code, _ := totp.Code(secret, m.clk.Now())
	res = m.do(withCookie(jsonReq("POST", "/auth/mfa/totp/verify", `{"code":"`+code+`"}`), c))
	if res.StatusCode != 200 {
		t.Fatalf("verify: %d %v", res.StatusCode, body(t, res))
	}
	nc := sessionCookie(t, m.env, res)
	var v struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	_ = json.NewDecoder(res.Body).Decode(&v)
	if len(v.RecoveryCodes) != totp.RecoveryCount {
		t.Fatalf("%d recovery codes", len(v.RecoveryCodes))
	}
	return secret, v.RecoveryCodes, nc
}

// passwordStage logs in with the password and expects a challenge stage.
func (m *mfaEnv) passwordStage(extra ...func(*http.Request)) (*http.Cookie, map[string]any) {
	t := m.t
	t.Helper()
	r := jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"`+alicePW+`"}`)
	for _, f := range extra {
		f(r)
	}
	res := m.do(r)
	if res.StatusCode != 200 {
		t.Fatalf("login: %d", res.StatusCode)
	}
	c := sessionCookie(t, m.env, res)
	return c, body(t, res)
}

func (m *mfaEnv) challenge(c *http.Cookie, js string) *http.Response {
	return m.do(withCookie(jsonReq("POST", "/auth/mfa/challenge", js), c))
}

func TestMFATwoStageLogin(t *testing.T) {
	m := newMFAEnv(t, MFAConfig{}, GuardConfig{})
	full := m.login(alicePW)
	secret, codes, mfaCookie := m.enrol(full)

	// The enrolment upgraded the session it ran in.
	res := m.do(withCookie(jsonReq("GET", "/auth/mfa", ""), mfaCookie))
	if b := body(t, res); b["session_mfa"] != "totp" || b["enabled"] != true {
		t.Fatalf("after enrolment: %v", b)
	}

	stage, ans := m.passwordStage()
	if ans["mfa_required"] != true || !strings.Contains(mustJSON(ans["methods"]), `"totp"`) || !strings.Contains(mustJSON(ans["methods"]), `"recovery"`) {
		t.Fatalf("login answer = %v", ans)
	}
	// A challenge-stage session opens nothing.
	for _, path := range []string{"/app", "/auth/session", "/auth/sessions"} {
		res := m.do(withCookie(jsonReq("GET", path, ""), stage))
		if e := decodeErr(t, res); e.Status != http.StatusUnauthorized || e.Code != CodeMFARequired {
			t.Errorf("%s with a challenge-stage session: %v, want 401 MFA_REQUIRED", path, e)
		}
	}
	// ...and cannot add or remove an authenticator.
	res = m.do(withCookie(jsonReq("POST", "/auth/mfa/totp/setup", `{}`), stage))
	if e := decodeErr(t, res); e.Code != CodeMFARequired {
		t.Errorf("setup from the challenge stage: %v", e)
	}
	res = m.do(withCookie(jsonReq("POST", "/auth/mfa/recovery-codes", `{}`), stage))
	if e := decodeErr(t, res); e.Code != CodeMFARequired {
		t.Errorf("recovery regeneration from the challenge stage: %v", e)
	}

	// A wrong code counts and says so.
	res = m.challenge(stage, `{"method":"totp","code":"000000"}`)
	if e := decodeErr(t, res); e.Code != CodeMFACodeInvalid {
		t.Errorf("wrong code: %v", e)
	}
	m.clk.Advance(totp.Period * time.Second)
	code, _ := totp.Code(secret, m.clk.Now())
	res = m.challenge(stage, `{"method":"totp","code":"`+code+`"}`)
	if res.StatusCode != 200 {
		t.Fatalf("challenge: %d %v", res.StatusCode, body(t, res))
	}
	full2 := sessionCookie(t, m.env, res)
	if full2.Value == stage.Value {
		t.Fatal("challenge did not rotate the session token")
	}
	// The stage token is dead; the new one opens the app with mfa set.
	if res := m.do(withCookie(jsonReq("GET", "/app", ""), stage)); res.StatusCode != 401 {
		t.Errorf("old stage token after challenge: %d", res.StatusCode)
	}
	res = m.do(withCookie(jsonReq("GET", "/app", ""), full2))
	if res.StatusCode != 200 {
		t.Fatalf("app after challenge: %d", res.StatusCode)
	}
	if !m.aud.has(audit.MFAVerified) || !m.aud.has(audit.MFAEnabled) || !m.aud.has(audit.MFAFailed) {
		t.Error("audit events missing")
	}

	// Replay: the same code in the same step is refused at a new stage.
	stage2, _ := m.passwordStage()
	res = m.challenge(stage2, `{"method":"totp","code":"`+code+`"}`)
	if e := decodeErr(t, res); e.Code != CodeMFACodeInvalid {
		t.Errorf("replayed code: %v", e)
	}

	// A recovery code works once, and MFA stays on.
	res = m.challenge(stage2, `{"method":"recovery","code":"`+strings.ToUpper(codes[0])+`"}`)
	if res.StatusCode != 200 {
		t.Fatalf("recovery code: %d %v", res.StatusCode, body(t, res))
	}
	if msg := m.queue.last(t); msg.Kind != notify.KindRecoveryCodeUsed || msg.To != "alice@example.test" {
		t.Errorf("security notice = %+v", msg)
	}
	stage3, _ := m.passwordStage()
	res = m.challenge(stage3, `{"method":"recovery","code":"`+codes[0]+`"}`)
	if e := decodeErr(t, res); e.Code != CodeMFACodeInvalid {
		t.Errorf("recovery code reused: %v", e)
	}
	res = m.challenge(stage3, `{"method":"recovery","code":"`+codes[1]+`"}`)
	if res.StatusCode != 200 {
		t.Errorf("second recovery code: %d", res.StatusCode)
	}
}

func TestMFARequiredForcesEnrolment(t *testing.T) {
	m := newMFAEnv(t, MFAConfig{Required: true}, GuardConfig{})
	stage, ans := m.passwordStage()
	if ans["enrol"] != true || ans["next"] != "/auth/mfa/setup" {
		t.Fatalf("login answer = %v", ans)
	}
	if res := m.do(withCookie(jsonReq("GET", "/app", ""), stage)); res.StatusCode != 401 {
		t.Errorf("enrolment stage reached the app: %d", res.StatusCode)
	}
	// Browser flow: 303 to the setup page, rd kept.
	res := m.do(formReq("/auth/login", url.Values{"email": {"alice@example.test"}, "password": {alicePW}, "rd": {"/app/x"}}))
	if loc := res.Header.Get("Location"); res.StatusCode != 303 || loc != "/auth/mfa/setup?rd=%2Fapp%2Fx" {
		t.Errorf("browser login: %d %s", res.StatusCode, loc)
	}
	_, _, full := m.enrol(stage)
	if res := m.do(withCookie(jsonReq("GET", "/app", ""), full)); res.StatusCode != 200 {
		t.Errorf("after enrolment: %d", res.StatusCode)
	}
	// The last authenticator cannot be removed while MFA is required.
	res = m.do(withCookie(jsonReq("GET", "/auth/mfa", ""), full))
	id := body(t, res)["totp"].([]any)[0].(map[string]any)["id"].(string)
	if e := decodeErr(t, m.do(withCookie(jsonReq("DELETE", "/auth/mfa/totp/"+id, ""), full))); e.Code != CodeConflict {
		t.Errorf("removing the last required factor: %v", e)
	}
}

func TestRequireMFAStepUp(t *testing.T) {
	m := newMFAEnv(t, MFAConfig{}, GuardConfig{RequireMFA: true})
	pw := m.login(alicePW) // no MFA yet: a password-only session
	res := m.do(withCookie(jsonReq("GET", "/app", ""), pw))
	if e := decodeErr(t, res); e.Code != CodeMFARequired || res.StatusCode != 403 {
		t.Fatalf("password-only session on a require-mfa site: %v", e)
	}
	r := getPage("/app/page?x=1", pw)
	res = m.do(r)
	loc := res.Header.Get("Location")
	if res.StatusCode != 302 || loc != "/auth/mfa/challenge?rd=%2Fapp%2Fpage%3Fx%3D1" {
		t.Fatalf("browser step-up: %d %s", res.StatusCode, loc)
	}
	// Without a factor, the challenge page sends the user to set one up.
	res = m.do(getPage(loc, pw))
	if l := res.Header.Get("Location"); res.StatusCode != 303 || !strings.HasPrefix(l, "/auth/mfa/setup?rd=") {
		t.Fatalf("challenge without a factor: %d %s", res.StatusCode, l)
	}
	_, _, mfa := m.enrol(pw)
	if res := m.do(withCookie(jsonReq("GET", "/app", ""), mfa)); res.StatusCode != 200 {
		t.Fatalf("after step-up: %d", res.StatusCode)
	}
}

func getPage(target string, c *http.Cookie) *http.Request {
	r, _ := http.NewRequest("GET", "http://example.test"+target, nil)
	r.RequestURI = target
	r.Host = "example.test"
	r.RemoteAddr = "192.0.2.1:1234"
	r.Header.Set("Accept", "text/html")
	if c != nil {
		r.AddCookie(c)
	}
	return r
}

func TestResetMFA(t *testing.T) {
	m := newMFAEnv(t, MFAConfig{}, GuardConfig{})
	_, _, full := m.enrol(m.login(alicePW))
	if err := m.svc.ResetMFA(context.Background(), m.alice.ID); err != nil {
		t.Fatal(err)
	}
	if res := m.do(withCookie(jsonReq("GET", "/app", ""), full)); res.StatusCode != 401 {
		t.Errorf("session survived an MFA reset: %d", res.StatusCode)
	}
	if _, ans := m.passwordStage(); ans["authenticated"] != true {
		t.Errorf("login after reset still asks for MFA: %v", ans)
	}
	if l, _ := m.mem.ListTOTP(context.Background(), m.alice.ID); len(l) != 0 {
		t.Error("factors left after reset")
	}
}

func TestMFAPagesRender(t *testing.T) {
	m := newMFAEnv(t, MFAConfig{}, GuardConfig{})
	m.enrol(m.login(alicePW))
	res := m.do(formReq("/auth/login", url.Values{"email": {"alice@example.test"}, "password": {alicePW}, "rd": {"/app"}}))
	loc := res.Header.Get("Location")
	if res.StatusCode != 303 || loc != "/auth/mfa/challenge?rd=%2Fapp" {
		t.Fatalf("browser login with MFA: %d %s", res.StatusCode, loc)
	}
	stage := sessionCookie(t, m.env, res)
	res = m.do(getPage(loc, stage))
	page, _ := io.ReadAll(res.Body)
	for _, want := range []string{`name="code"`, `autocomplete="one-time-code"`, `name="trust_device"`, `value="/app"`, `action="/auth/mfa/send"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("challenge page lacks %s", want)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("challenge page CSP = %q", csp)
	}
}

// TestMFAAfterIdP: an OAuth login goes through the same MFA policy; only
// when the operator trusts the IdP's own MFA (IdPMFA) does it skip the
// local challenge, and the session records "idp".
func TestMFAAfterIdP(t *testing.T) {
	m := newMFAEnv(t, MFAConfig{}, GuardConfig{RequireMFA: true})
	m.enrol(m.login(alicePW))
	p := &portal{s: m.svc, base: "/auth"}
	for _, tc := range []struct {
		idp         bool
		wantPending string
		wantMFA     string
	}{{false, "mfa", ""}, {true, "", MethodIdP}} {
		rec := httptest.NewRecorder()
		r := jsonReq("GET", "/auth/oauth/corp/callback", "")
		if !p.completeLogin(rec, r, m.alice, firstFactor{Method: "oauth:corp", IdPMFA: tc.idp}, "") {
			t.Fatalf("idp=%v: completeLogin failed: %d", tc.idp, rec.Code)
		}
		c := sessionCookie(t, m.env, rec.Result())
		id, err := m.svc.deps.Sessions.Validate(context.Background(), c.Value)
		if err != nil {
			t.Fatal(err)
		}
		if id.Session.Pending != tc.wantPending || id.Session.MFAMethod != tc.wantMFA || id.Session.AuthMethod != "oauth:corp" {
			t.Errorf("idp=%v: session = pending %q mfa %q method %q", tc.idp, id.Session.Pending, id.Session.MFAMethod, id.Session.AuthMethod)
		}
		res := m.do(withCookie(jsonReq("GET", "/app", ""), c))
		if want := map[bool]int{false: 401, true: 200}[tc.idp]; res.StatusCode != want {
			t.Errorf("idp=%v: require-mfa site answered %d, want %d", tc.idp, res.StatusCode, want)
		}
	}
}

func TestValidPhone(t *testing.T) {
	for p, ok := range map[string]bool{
		"+15551234567": true, "+442071838750": true, "+123456789012345": true,
		"15551234567": false, "+0555123456": false, "+1555": false, "+1234567890123456": false,
		"+1555 123 4567": false, "+1555-1234567": false, "": false, "+": false,
	} {
		if ValidPhone(p) != ok {
			t.Errorf("ValidPhone(%q) = %v, want %v", p, !ok, ok)
		}
	}
}

// TestMFASurvivesRotation: after a secret rotation with previous_secret
// set, recovery codes and authenticators made before it keep working.
func TestMFASurvivesRotation(t *testing.T) {
	oldS, newS := keys.NewToken()+keys.NewToken(), keys.NewToken()+keys.NewToken()
	oldRing, _ := keys.NewRing(oldS, "")
	m := newMFAEnv(t, MFAConfig{}, GuardConfig{})
	m.svc.keys, m.svc.cfg.Keys = oldRing, oldRing
	secret, codes, _ := m.enrol(m.login(alicePW))
	rotated, err := keys.NewRing(newS, oldS)
	if err != nil {
		t.Fatal(err)
	}
	m.svc.keys, m.svc.cfg.Keys = rotated, rotated
	stage, _ := m.passwordStage()
	if res := m.challenge(stage, `{"method":"recovery","code":"`+codes[0]+`"}`); res.StatusCode != 200 {
		t.Fatalf("recovery code after rotation: %d", res.StatusCode)
	}
	stage, _ = m.passwordStage()
	m.clk.Advance(totp.Period * time.Second)
	code, _ := totp.Code(secret, m.clk.Now())
	if res := m.challenge(stage, `{"method":"totp","code":"`+code+`"}`); res.StatusCode != 200 {
		t.Fatalf("authenticator after rotation: %d", res.StatusCode)
	}
}

func TestValidGroup(t *testing.T) {
	for g, ok := range map[string]bool{
		"staff": true, "team-a_b.c": true, "ÉQUIPE": true,
		"": false, "staff,admin": false, " admin ": false, "a b": false, "a\tb": false, "a\x00b": false,
		strings.Repeat("g", 129): false, "\xff": false,
	} {
		if ValidGroup(g) != ok {
			t.Errorf("ValidGroup(%q) = %v, want %v", g, !ok, ok)
		}
	}
	svc := newEnv(t, Config{}, GuardConfig{}).svc
	if got := svc.cleanGroups([]string{"staff,admin", " admin ", "staff", "staff", "ops"}, "corp"); !slices.Equal(got, []string{"staff", "ops"}) {
		t.Errorf("cleanGroups = %q", got)
	}
}

// TestStackedPublicThenProtected: a path public for a site-wide guard and
// protected by a stricter later one admits the signed-in user (the first
// guard hands over who it saw before removing the cookie) and still refuses
// anonymous requests.
func TestStackedPublicThenProtected(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{Public: []string{"/docs/*"}})
	strict, err := e.svc.NewGuard(GuardConfig{Base: "/auth", RequireMFA: false})
	if err != nil {
		t.Fatal(err)
	}
	c := e.login(alicePW)
	r := withCookie(jsonReq("GET", "/docs/admin", ""), c)
	rec := httptest.NewRecorder()
	prior, out := e.guard.CheckAfter(rec, r, nil)
	if out != Public || prior == nil || r.Header.Get("Remote-User") != "" || strings.Contains(r.Header.Get("Cookie"), c.Value) {
		t.Fatalf("first guard: outcome %v, prior %v, Remote-User %q", out, prior != nil, r.Header.Get("Remote-User"))
	}
	if _, out := strict.CheckAfter(rec, r, prior); out != Authenticated || r.Header.Get("Remote-Email") != "alice@example.test" {
		t.Errorf("stricter guard after a public match: outcome %v (status %d)", out, rec.Code)
	}
	anon := jsonReq("GET", "/docs/admin", "")
	rec = httptest.NewRecorder()
	prior, _ = e.guard.CheckAfter(rec, anon, nil)
	if _, out := strict.CheckAfter(rec, anon, prior); out != Handled || rec.Code != http.StatusUnauthorized {
		t.Errorf("anonymous: outcome %v, status %d", out, rec.Code)
	}
	// Store down: the public path still passes without identity, and the
	// stricter guard never admits the request (the cookie is already gone,
	// so it answers as for an anonymous API call).
	e.ss.mu.Lock()
	e.ss.down = true
	e.ss.mu.Unlock()
	r = withCookie(jsonReq("GET", "/docs/admin", ""), c)
	rec = httptest.NewRecorder()
	prior, out = e.guard.CheckAfter(rec, r, nil)
	if out != Public || prior != nil {
		t.Fatalf("public path with the store down: outcome %v, identity %v", out, prior != nil)
	}
	if _, out := strict.CheckAfter(rec, r, prior); out != Handled || rec.Code < 400 || r.Header.Get("Remote-User") != "" {
		t.Errorf("stricter guard with the store down: outcome %v, status %d: must refuse", out, rec.Code)
	}
}

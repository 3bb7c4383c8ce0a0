package flows

import (
	"context"
	"crypto/sha1" //nolint:gosec // the range protocol is keyed on SHA-1
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store/memory"
)

// breachedPW passes the local policy (long, not common, not from the
// account) but the test range server knows it.
const breachedPW = "stapler meadow crimson bicycle"

// rangeSrv is a k-anonymity range server for tests: it knows breachedPW,
// pads every answer, and records each path it is asked.
type rangeSrv struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newRangeSrv(t *testing.T, breached ...string) *rangeSrv {
	t.Helper()
	rs := &rangeSrv{}
	known := map[string]int{}
	for i, pw := range append([]string{breachedPW}, breached...) {
		s := sha1.Sum([]byte(pw)) //nolint:gosec // protocol-mandated
		known[strings.ToUpper(hex.EncodeToString(s[:]))] = 100 + i
	}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		rs.paths = append(rs.paths, r.URL.Path)
		rs.mu.Unlock()
		prefix, ok := strings.CutPrefix(r.URL.Path, "/range/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		for full, n := range known {
			if full[:5] == prefix {
				_, _ = fmt.Fprintf(w, "%s:%d\r\n", full[5:], n)
			}
		}
		if r.Header.Get("Add-Padding") == "true" {
			for i := range 3 {
				_, _ = fmt.Fprintf(w, "%035X:0\r\n", i)
			}
		}
	}))
	t.Cleanup(rs.Close)
	return rs
}

// asked returns the paths asked since the last call.
func (rs *rangeSrv) asked() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	p := rs.paths
	rs.paths = nil
	return p
}

// breachObserver counts BreachCheck results.
type breachObserver struct {
	nopObserver
	mu      sync.Mutex
	results map[string]int
}

func (o *breachObserver) BreachCheck(r string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.results == nil {
		o.results = map[string]int{}
	}
	o.results[r]++
}

func (o *breachObserver) count(r string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.results[r]
}

func breachConfig(url string, refuse bool) *BreachCheck {
	return &BreachCheck{Counter: &password.BreachChecker{URL: url, Timeout: time.Second}, RefuseOnError: refuse}
}

// checkBreachRefusal: a 400 INVALID_INPUT that says breach and does not
// repeat the password.
func checkBreachRefusal(t *testing.T, res *http.Response, what string) {
	t.Helper()
	e := decodeErr(t, res)
	if res.StatusCode != http.StatusBadRequest || e.Code != CodeInvalidInput || !strings.Contains(e.Message, "breach") || strings.Contains(e.Message, breachedPW) {
		t.Fatalf("%s: %d %+v, want 400 INVALID_INPUT about a breach", what, res.StatusCode, e)
	}
}

// onlyPrefixes: every path asked is /range/ and five upper-case hex digits.
func onlyPrefixes(t *testing.T, paths []string) {
	t.Helper()
	for _, p := range paths {
		pre, ok := strings.CutPrefix(p, "/range/")
		if _, err := hex.DecodeString(pre + "0"); !ok || len(pre) != 5 || strings.ToUpper(pre) != pre || err != nil {
			t.Fatalf("the range server was asked %q, not a 5-digit prefix", p)
		}
	}
}

// TestBreachCheckChangePassword: change-password refuses a breached
// password with 400 INVALID_INPUT (the password stays), accepts a fresh
// one, and only 5-character prefixes leave; the observer hears each
// result.
func TestBreachCheckChangePassword(t *testing.T) {
	rs := newRangeSrv(t)
	obs := &breachObserver{}
	m := &mfaEnv{clk: newClock(), queue: &captureQueue{}, aud: &memAudit{}}
	m.env = newEnvWith(t, Config{Observer: obs, Breach: breachConfig(rs.URL, false)}, GuardConfig{}, func(d *Deps) { d.Outbox = m.queue; d.Audit = m.aud })
	e := m.env
	c := e.login(alicePW)
	res := e.do(changeReq(`{"current_password":"`+alicePW+`","new_password":"`+breachedPW+`"}`, c))
	checkBreachRefusal(t, res, "breached new password")
	if !e.alive(c) {
		t.Fatal("a refused change ended the session")
	}
	e.login(alicePW) // unchanged
	if obs.count("breached") != 1 {
		t.Fatalf("observer %v", obs.results)
	}
	// A wrong current password is refused before any lookup.
	rs.asked()
	if res := e.do(changeReq(`{"current_password":"not the password at all","new_password":"`+breachedPW+`"}`, c)); res.StatusCode != 401 {
		t.Fatalf("wrong current: %d", res.StatusCode)
	}
	if p := rs.asked(); len(p) != 0 {
		t.Fatalf("a wrong current password set off a lookup: %q", p)
	}
	res = e.do(changeReq(`{"current_password":"`+alicePW+`","new_password":"`+newPW+`"}`, c))
	if res.StatusCode != 200 {
		t.Fatalf("fresh password: %d %+v", res.StatusCode, decodeErr(t, res))
	}
	e.login(newPW)
	if obs.count("clean") != 1 {
		t.Fatalf("observer %v", obs.results)
	}
	onlyPrefixes(t, rs.asked())
}

// TestBreachCheckReset: by link, a breached password is refused and the
// link stays usable; by code, the lookup waits for a right code (a wrong
// one sets off none), and a refusal then gives the code back.
func TestBreachCheckReset(t *testing.T) {
	rs := newRangeSrv(t)
	m := newResetEnv(t, func(c *Config) { c.Breach = breachConfig(rs.URL, false) }, nil)
	m.forgot(`{"email":"alice@example.test"}`)
	tok, code := resetMessage(t, m.queue)
	checkBreachRefusal(t, m.resetReq(`{"token":"`+tok+`","new_password":"`+breachedPW+`"}`), "breached by link")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	rs.asked()
	res := m.resetReq(`{"email":"alice@example.test","code":"` + wrong + `","new_password":"` + breachedPW + `"}`)
	if e := decodeErr(t, res); e.Code != CodeResetTokenInvalid {
		t.Fatalf("wrong code: %d %+v", res.StatusCode, e)
	}
	if p := rs.asked(); len(p) != 0 {
		t.Fatalf("a wrong code set off a lookup: %q", p)
	}
	checkBreachRefusal(t, m.resetReq(`{"email":"alice@example.test","code":"`+code+`","new_password":"`+breachedPW+`"}`), "breached by code")
	if p := rs.asked(); len(p) != 1 {
		t.Fatalf("right code: %d lookups, want 1", len(p))
	}
	res = m.resetReq(`{"email":"alice@example.test","code":"` + code + `","new_password":"` + resetPW + `"}`)
	if res.StatusCode != 200 {
		t.Fatalf("fresh password by the same code: %d %v", res.StatusCode, body(t, res))
	}
	m.login(resetPW)
	onlyPrefixes(t, rs.asked())
}

// TestBreachCheckInvitation: accepting an invitation (the reset page with
// the invitation's link) refuses a breached password and keeps the link;
// inviting looks nothing up (no password).
func TestBreachCheckInvitation(t *testing.T) {
	rs := newRangeSrv(t)
	m := newResetEnv(t, func(c *Config) { c.Breach = breachConfig(rs.URL, false) }, nil)
	ctx := context.Background()
	if _, _, err := m.svc.Accounts().Invite(ctx, Actor{ID: "test"}, NewAccount{Email: "nina@example.test", Name: "Nina"},
		Invitation{Grants: m.mem, Outbox: m.queue, Portal: "https://example.test/auth"}); err != nil {
		t.Fatal(err)
	}
	if p := rs.asked(); len(p) != 0 {
		t.Fatalf("inviting looked up %q", p)
	}
	msg := m.queue.last(t)
	link, err := url.Parse(msg.Data[notify.DataLink])
	if msg.Kind != notify.KindInvitation || err != nil {
		t.Fatalf("message %+v", msg)
	}
	tok := link.Query().Get("token")
	checkBreachRefusal(t, m.resetReq(`{"token":"`+tok+`","new_password":"`+breachedPW+`"}`), "breached invitation password")
	res := m.resetReq(`{"token":"` + tok + `","new_password":"` + resetPW + `"}`)
	if b := body(t, res); res.StatusCode != 200 || b["invitation_accepted"] != true {
		t.Fatalf("fresh invitation password: %d %v", res.StatusCode, b)
	}
	m.loginAs("nina@example.test", resetPW)
	onlyPrefixes(t, rs.asked())
}

// TestBreachCheckSetup: the first-run setup page refuses a breached
// password without burning its token, then accepts a fresh one.
func TestBreachCheckSetup(t *testing.T) {
	rs := newRangeSrv(t)
	mem := memory.New()
	mgr, _ := session.New(mem, mem, session.Config{})
	svc, err := New(Config{Breach: breachConfig(rs.URL, false)}, Deps{Users: mem, Tokens: mem, Sessions: mgr, Hasher: password.New(fastHash, 2)})
	if err != nil {
		t.Fatal(err)
	}
	p := svc.Portal("/auth")
	do := func(r *http.Request) *http.Response {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, r)
		return rec.Result()
	}
	tok, _, err := svc.NewSetupToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkBreachRefusal(t, do(jsonReq("POST", "/auth/setup", `{"token":"`+tok+`","email":"root@example.test","password":"`+breachedPW+`"}`)), "breached setup password")
	// Two differing passwords are refused before any lookup.
	rs.asked()
	if res := do(jsonReq("POST", "/auth/setup", `{"token":"`+tok+`","email":"root@example.test","password":"`+breachedPW+`","confirm":"something else entirely"}`)); res.StatusCode != 400 {
		t.Fatalf("confirm differs: %d", res.StatusCode)
	}
	if p := rs.asked(); len(p) != 0 {
		t.Fatalf("a differing confirmation set off a lookup: %q", p)
	}
	if n, _ := mem.CountUsers(context.Background()); n != 0 {
		t.Fatalf("%d users after refusals", n)
	}
	res := do(jsonReq("POST", "/auth/setup", `{"token":"`+tok+`","email":"root@example.test","password":"a long enough passphrase"}`))
	if res.StatusCode != 200 {
		t.Fatalf("fresh setup password: %d %+v", res.StatusCode, decodeErr(t, res))
	}
	if p := rs.asked(); len(p) != 1 {
		t.Fatalf("setup looked up %d times, want once", len(p))
	}
}

// TestBreachCheckAccounts: the account service itself (the CLI's `user
// add` and `user passwd`, the admin API) refuses a breached password in
// Draft and SetPassword, and never asks for an account without one.
func TestBreachCheckAccounts(t *testing.T) {
	rs := newRangeSrv(t)
	e := newEnv(t, Config{Breach: breachConfig(rs.URL, false)}, GuardConfig{})
	acc := e.svc.Accounts()
	ctx := context.Background()
	if _, err := acc.Draft(ctx, NewAccount{Email: "carol@example.test", Password: breachedPW}); !errors.Is(err, password.ErrBreached) {
		t.Fatalf("Draft with a breached password: %v", err)
	}
	if _, err := acc.SetPassword(ctx, Actor{ID: ActorCLI}, e.alice, breachedPW); !errors.Is(err, password.ErrBreached) {
		t.Fatalf("SetPassword with a breached password: %v", err)
	}
	e.login(alicePW)
	if _, err := acc.Draft(ctx, NewAccount{Email: "dan@example.test", NoPassword: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := acc.SetPassword(ctx, Actor{ID: ActorCLI}, e.alice, newPW); err != nil {
		t.Fatal(err)
	}
	if p := rs.asked(); len(p) != 3 {
		t.Fatalf("%d lookups, want 3 (the account without a password needs none)", len(p))
	}
	// The local policy comes first: a short password is refused unasked.
	if _, err := acc.SetPassword(ctx, Actor{ID: ActorCLI}, e.alice, "short"); !errors.Is(err, password.ErrTooShort) {
		t.Fatal(err)
	}
	if p := rs.asked(); len(p) != 0 {
		t.Fatalf("a policy refusal set off a lookup: %q", p)
	}
}

// TestBreachCheckOnError: with the range server down, on_error allow
// (the default) accepts the password and warns once per failure (no
// password or hash in the warning); on_error refuse answers 503
// BREACH_CHECK_UNAVAILABLE and changes nothing (a reset keeps its code).
func TestBreachCheckOnError(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()

	var warned []error
	obs := &breachObserver{}
	allow := breachConfig(downURL, false)
	allow.Warn = func(err error) { warned = append(warned, err) }
	e := newEnv(t, Config{Observer: obs, Breach: allow}, GuardConfig{})
	c := e.login(alicePW)
	if res := e.do(changeReq(`{"current_password":"`+alicePW+`","new_password":"`+newPW+`"}`, c)); res.StatusCode != 200 {
		t.Fatalf("allow: %d %+v", res.StatusCode, decodeErr(t, res))
	}
	e.login(newPW)
	if len(warned) != 1 || !errors.Is(warned[0], password.ErrBreachUnavailable) || obs.count("unavailable") != 1 {
		t.Fatalf("allow: warnings %v, observer %v", warned, obs.results)
	}
	s := sha1.Sum([]byte(newPW)) //nolint:gosec // protocol-mandated
	h := strings.ToUpper(hex.EncodeToString(s[:]))
	if w := warned[0].Error(); strings.Contains(w, newPW) || strings.Contains(w, h[:5]) || strings.Contains(strings.ToUpper(w), h[5:]) {
		t.Fatalf("the warning names the password or its hash: %s", w)
	}

	m := newResetEnv(t, func(c *Config) { c.Breach = breachConfig(downURL, true) }, nil)
	c = m.login(alicePW)
	res := m.do(changeReq(`{"current_password":"`+alicePW+`","new_password":"`+newPW+`"}`, c))
	if e := decodeErr(t, res); res.StatusCode != http.StatusServiceUnavailable || e.Code != CodeBreachCheckUnavailable {
		t.Fatalf("refuse, change: %d %+v", res.StatusCode, e)
	}
	m.login(alicePW)
	m.forgot(`{"email":"alice@example.test"}`)
	tok, code := resetMessage(t, m.queue)
	for _, js := range []string{
		`{"token":"` + tok + `","new_password":"` + resetPW + `"}`,
		`{"email":"alice@example.test","code":"` + code + `","new_password":"` + resetPW + `"}`,
	} {
		res := m.resetReq(js)
		if e := decodeErr(t, res); res.StatusCode != http.StatusServiceUnavailable || e.Code != CodeBreachCheckUnavailable {
			t.Fatalf("refuse, reset: %d %+v", res.StatusCode, e)
		}
	}
	if _, err := m.svc.Accounts().SetPassword(context.Background(), Actor{ID: ActorCLI}, m.alice, resetPW); !errors.Is(err, password.ErrBreachUnavailable) {
		t.Fatalf("refuse, SetPassword: %v", err)
	}
	m.login(alicePW)
	// The code survived its refusals: with the server back it works.
	rs := newRangeSrv(t)
	m.svc.cfg.Breach.Counter = &password.BreachChecker{URL: rs.URL}
	if res := m.resetReq(`{"email":"alice@example.test","code":"` + code + `","new_password":"` + resetPW + `"}`); res.StatusCode != 200 {
		t.Fatalf("the code after the server came back: %d %v", res.StatusCode, body(t, res))
	}
	m.login(resetPW)
}

// TestBreachCheckRegister: sign-up refuses a breached password alike for
// a free and a taken address (the answer tells neither), looks it up once
// per attempt (not again in Draft), makes no account, and accepts a fresh
// one; with the range server down and on_error refuse it answers 503.
func TestBreachCheckRegister(t *testing.T) {
	rs := newRangeSrv(t)
	m := newResetEnv(t, func(c *Config) {
		c.Registration = RegistrationConfig{On: true}
		c.Breach = breachConfig(rs.URL, true)
	}, nil)
	reg := func(email, pw string) *http.Response {
		return m.do(jsonReq("POST", "/auth/register", `{"email":"`+email+`","password":"`+pw+`","name":"New Comer"}`))
	}
	var bodies []string
	for _, email := range []string{"new@corp.test", "alice@example.test"} {
		res := reg(email, breachedPW)
		b := decodeErr(t, res)
		bodies = append(bodies, fmt.Sprintf("%d %+v", res.StatusCode, b))
		if res.StatusCode != http.StatusBadRequest || b.Code != CodeInvalidInput || !strings.Contains(b.Message, "breach") {
			t.Fatalf("%s, breached: %d %+v", email, res.StatusCode, b)
		}
	}
	if bodies[0] != bodies[1] {
		t.Fatalf("a free and a taken address answered differently:\n%s\n%s", bodies[0], bodies[1])
	}
	if _, err := m.mem.UserByEmail(context.Background(), "new@corp.test"); err == nil {
		t.Fatal("a refused sign-up made an account")
	}
	if p := rs.asked(); len(p) != 2 {
		t.Fatalf("%d lookups for two attempts, want 2", len(p))
	}
	if res := reg("new@corp.test", newcomerPW); res.StatusCode != http.StatusAccepted {
		t.Fatalf("fresh password: %d %+v", res.StatusCode, decodeErr(t, res))
	}
	if p := rs.asked(); len(p) != 1 {
		t.Fatalf("%d lookups for one sign-up, want 1 (Draft must not ask again)", len(p))
	}
	rs.Close()
	res := reg("other@corp.test", newcomerPW)
	if e := decodeErr(t, res); res.StatusCode != http.StatusServiceUnavailable || e.Code != CodeBreachCheckUnavailable {
		t.Fatalf("server down, refuse: %d %+v", res.StatusCode, e)
	}
}

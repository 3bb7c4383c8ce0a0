package flows

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/methods"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
)

type recorder struct {
	mu     sync.Mutex
	events []audit.Event
}

func (r *recorder) Record(_ context.Context, e audit.Event) error {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	return nil
}

func (r *recorder) find(typ, userID string) *audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.events) - 1; i >= 0; i-- {
		if e := r.events[i]; e.Type == typ && (userID == "" || e.UserID == userID) {
			return &e
		}
	}
	return nil
}

type outbox struct {
	mu   sync.Mutex
	msgs []notify.Message
}

// Has: the test outbox takes every channel.
func (o *outbox) Has(string) bool { return true }

func (o *outbox) Enqueue(_ context.Context, m notify.Message) error {
	o.mu.Lock()
	o.msgs = append(o.msgs, m)
	o.mu.Unlock()
	return nil
}

type adminEnv struct {
	t      *testing.T
	svc    *Service
	mem    *memory.Store
	mgr    *session.Manager
	portal http.Handler
	audit  *recorder
	outbox *outbox
	sw     *methods.Switch
	root   *store.User // admin
	bob    *store.User // plain user
}

func newAdminEnv(t *testing.T, lim *Limits) *adminEnv {
	t.Helper()
	mem := memory.New()
	mgr, err := session.New(mem, mem, session.Config{CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	h := password.New(fastHash, 4)
	if lim == nil {
		lim = &Limits{}
	}
	e := &adminEnv{t: t, mem: mem, mgr: mgr, audit: &recorder{}, outbox: &outbox{}, sw: methods.New(mem, -1, methods.Offered(false, "github", "google"))}
	e.svc, err = New(Config{Limits: lim}, Deps{
		Users: mem, Tokens: mem, Sessions: mgr, Hasher: h,
		Audit: e.audit, Outbox: e.outbox, Methods: e.sw, MethodAdmin: e.sw, Lockouts: mem,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.portal = e.svc.Portal("/auth")
	hash, _ := h.Hash(context.Background(), alicePW)
	mk := func(email string, groups ...string) *store.User {
		u := &store.User{ID: keys.NewID(), Email: email, Groups: groups, Status: store.StatusActive, PasswordHash: hash, CreatedAt: time.Now()}
		if err := mem.CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	e.root, e.bob = mk("root@example.test", "admin"), mk("bob@example.test", "staff")
	return e
}

// session opens a session for u; mfa "" is a single-factor login.
func (e *adminEnv) session(u *store.User, mfa string) string {
	e.t.Helper()
	id, err := e.mgr.CreateWith(context.Background(), u, session.Options{AuthMethod: "password", MFAMethod: mfa})
	if err != nil {
		e.t.Fatal(err)
	}
	return id.Token
}

// call sends a JSON API request with the session token (if any).
func (e *adminEnv) call(method, path, token, body string, hdr ...string) (*http.Response, map[string]any) {
	e.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Accept", "application/json")
	if method != http.MethodGet {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	if token != "" {
		r.AddCookie(&http.Cookie{Name: e.svc.CookieName(), Value: token})
	}
	rec := httptest.NewRecorder()
	e.portal.ServeHTTP(rec, r)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		e.t.Fatalf("%s %s: not JSON (%d): %s", method, path, res.StatusCode, b)
	}
	return res, m
}

func (e *adminEnv) expect(method, path, token, body string, status int, code string, hdr ...string) map[string]any {
	e.t.Helper()
	res, m := e.call(method, path, token, body, hdr...)
	if res.StatusCode != status || (code != "" && m["code"] != code) {
		e.t.Fatalf("%s %s: got %d %v, want %d %s", method, path, res.StatusCode, m, status, code)
	}
	return m
}

func TestAdminAuthorization(t *testing.T) {
	e := newAdminEnv(t, nil)
	admin := e.session(e.root, "totp")
	noMFA := e.session(e.root, "")
	trusted := e.session(e.root, "trusted_device")
	plain := e.session(e.bob, "totp")
	pending, err := e.mgr.CreateWith(context.Background(), e.root, session.Options{AuthMethod: "password", Pending: store.PendingMFA})
	if err != nil {
		t.Fatal(err)
	}
	users := "/auth/admin/users"
	disable := "/auth/admin/users/" + e.bob.ID + "/disable"
	for _, c := range []struct {
		name, method, path, token, ctype string
		status                           int
		code                             string
	}{
		{"anonymous", "GET", users, "", "", 401, CodeUnauthenticated},
		{"unknown token", "GET", users, keys.NewToken(), "", 401, CodeSessionExpired},
		{"challenge-stage session", "GET", users, pending.Token, "", 401, CodeSessionExpired},
		{"not an admin", "GET", users, plain, "", 403, CodeForbidden},
		{"not an admin, write", "POST", disable, plain, "application/json", 403, CodeForbidden},
		{"admin without MFA", "GET", users, noMFA, "", 403, CodeMFARequired},
		{"admin without MFA, write", "POST", disable, noMFA, "application/json", 403, CodeMFARequired},
		{"admin by a remembered device only", "GET", users, trusted, "", 403, CodeMFARequired},
		{"admin, form post", "POST", disable, admin, "application/x-www-form-urlencoded", 415, CodeUnsupportedMedia},
		{"admin, no content type", "POST", disable, admin, "-", 415, CodeUnsupportedMedia},
		{"admin, text/plain", "POST", "/auth/admin/methods/password", admin, "text/plain", 415, CodeUnsupportedMedia},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.path, strings.NewReader(""))
			r.Header.Set("Accept", "application/json")
			if c.ctype != "" && c.ctype != "-" {
				r.Header.Set("Content-Type", c.ctype)
			}
			if c.token != "" {
				r.AddCookie(&http.Cookie{Name: e.svc.CookieName(), Value: c.token})
			}
			rec := httptest.NewRecorder()
			e.portal.ServeHTTP(rec, r)
			got := decodeErr(t, rec.Result())
			if rec.Code != c.status || got.Code != c.code {
				t.Fatalf("got %d %s, want %d %s", rec.Code, got.Code, c.status, c.code)
			}
		})
	}
	if u, _ := e.mem.UserByID(context.Background(), e.bob.ID); !u.Active() {
		t.Fatal("a refused call changed the user")
	}
	// Cross-site requests are refused by the portal's CSRF check before
	// anything else, even with an admin's cookie and JSON.
	e.expect("POST", disable, admin, "", 403, CodeCrossOrigin, "Sec-Fetch-Site", "cross-site")
	// A browser asking for HTML still gets JSON from the admin API.
	res, _ := e.call("GET", users, plain, "", "Accept", "text/html")
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || res.StatusCode != 403 {
		t.Fatalf("HTML client: %d %s", res.StatusCode, ct)
	}
	e.expect("GET", users, admin, "", 200, "")
}

func TestAdminUserEndpoints(t *testing.T) {
	e := newAdminEnv(t, nil)
	admin := e.session(e.root, "totp")
	ctx := context.Background()
	bobPath := "/auth/admin/users/" + e.bob.ID

	m := e.expect("GET", "/auth/admin/users", admin, "", 200, "")
	list, _ := m["users"].([]any)
	if len(list) != 2 {
		t.Fatalf("users = %v", m)
	}
	m = e.expect("GET", bobPath, admin, "", 200, "")
	u := m["user"].(map[string]any)
	if u["email"] != "bob@example.test" || u["status"] != "active" || u["has_password"] != true {
		t.Fatalf("user = %v", u)
	}
	if strings.Contains(mustJSON(m), "argon2") {
		t.Fatal("the admin API shows the password hash")
	}
	e.expect("GET", "/auth/admin/users/nope", admin, "", 404, CodeNotFound)

	// Sessions: list, delete one, logout-all.
	s1, s2 := e.session(e.bob, ""), e.session(e.bob, "")
	m = e.expect("GET", bobPath+"/sessions", admin, "", 200, "")
	sess := m["sessions"].([]any)
	if len(sess) != 2 {
		t.Fatalf("sessions = %v", m)
	}
	first := keys.HashToken(s1)[:16] // the public handle
	found := false
	for _, s := range sess {
		found = found || s.(map[string]any)["id"] == first
	}
	if !found {
		t.Fatalf("sessions %v lack the public handle %s", sess, first)
	}
	e.expect("DELETE", bobPath+"/sessions/"+first, admin, "", 200, "")
	if _, err := e.mgr.Validate(ctx, s1); err == nil {
		t.Fatal("deleted session still valid")
	}
	if ev := e.audit.find(audit.SessionRevoked, e.bob.ID); ev == nil || ev.Actor != e.root.ID {
		t.Fatalf("session.revoked event = %+v", ev)
	}
	e.expect("DELETE", bobPath+"/sessions/"+first, admin, "", 404, CodeNotFound)
	m = e.expect("POST", bobPath+"/logout-all", admin, "{}", 200, "")
	if m["sessions_ended"] != float64(1) {
		t.Fatalf("logout-all = %v", m)
	}
	if _, err := e.mgr.Validate(ctx, s2); err == nil {
		t.Fatal("session survived logout-all")
	}
	if ev := e.audit.find(audit.LogoutAll, e.bob.ID); ev == nil || ev.Actor != e.root.ID {
		t.Fatalf("logout_all event = %+v", ev)
	}
	e.expect("POST", bobPath+"/logout-all", admin, `{"x":1}`, 400, CodeInvalidInput)

	// Disable ends the sessions and stops logins; enable restores.
	s3 := e.session(e.bob, "")
	m = e.expect("POST", bobPath+"/disable", admin, "", 200, "")
	if m["sessions_ended"] != float64(1) || m["user"].(map[string]any)["status"] != "disabled" {
		t.Fatalf("disable = %v", m)
	}
	if _, err := e.mgr.Validate(ctx, s3); err == nil {
		t.Fatal("session survived disable")
	}
	e.expect("POST", "/auth/login", "", `{"email":"bob@example.test","password":"`+alicePW+`"}`, 401, CodeInvalidCredentials)
	if ev := e.audit.find(audit.UserDisabled, e.bob.ID); ev == nil || ev.Actor != e.root.ID {
		t.Fatalf("user.disabled event = %+v", ev)
	}
	e.expect("POST", bobPath+"/enable", admin, "", 200, "")
	e.expect("POST", "/auth/login", "", `{"email":"bob@example.test","password":"`+alicePW+`"}`, 200, "")
	if ev := e.audit.find(audit.UserEnabled, e.bob.ID); ev == nil || ev.Actor != e.root.ID {
		t.Fatalf("user.enabled event = %+v", ev)
	}

	// Reset MFA ends the sessions (the MFA feature also drops factors).
	s4 := e.session(e.bob, "totp")
	e.expect("POST", bobPath+"/reset-mfa", admin, "", 200, "")
	if _, err := e.mgr.Validate(ctx, s4); err == nil {
		t.Fatal("session survived reset-mfa")
	}
	if ev := e.audit.find(audit.MFAReset, e.bob.ID); ev == nil || ev.Actor != e.root.ID {
		t.Fatalf("mfa.reset event = %+v", ev)
	}

	// Self-protection, then delete.
	self := "/auth/admin/users/" + e.root.ID
	e.expect("DELETE", self, admin, "", 409, CodeConflict)
	e.expect("POST", self+"/disable", admin, "", 409, CodeConflict)
	s5 := e.session(e.bob, "")
	m = e.expect("DELETE", bobPath, admin, "", 200, "")
	if m["deleted"] != true {
		t.Fatalf("delete = %v", m)
	}
	if _, err := e.mem.UserByID(ctx, e.bob.ID); err == nil {
		t.Fatal("user still exists")
	}
	if _, err := e.mgr.Validate(ctx, s5); err == nil {
		t.Fatal("session of a deleted user still valid")
	}
	if ev := e.audit.find(audit.UserDeleted, e.bob.ID); ev == nil || ev.Actor != e.root.ID || ev.Email != "bob@example.test" {
		t.Fatalf("user.deleted event = %+v", ev)
	}
	e.expect("DELETE", bobPath, admin, "", 404, CodeNotFound)
}

// TestAdminUnlock: a lockout from two addresses is lifted for both by one
// call, and the lock notice went to the account's address.
func TestAdminUnlock(t *testing.T) {
	e := newAdminEnv(t, &Limits{LockoutMax: 2, LockoutWindow: time.Hour, LockoutDuration: time.Hour})
	admin := e.session(e.root, "totp")
	login := func(ip, pw string) *http.Response {
		r := jsonReq("POST", "/auth/login", `{"email":"bob@example.test","password":"`+pw+`"}`)
		r.RemoteAddr = ip + ":1234"
		rec := httptest.NewRecorder()
		e.portal.ServeHTTP(rec, r)
		return rec.Result()
	}
	for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		login(ip, "wrong password here")
		login(ip, "wrong password here")
		if got := decodeErr(t, login(ip, alicePW)); got.Code != CodeAccountLocked {
			t.Fatalf("from %s: %+v, want locked", ip, got)
		}
	}
	e.outbox.mu.Lock()
	msgs := append([]notify.Message(nil), e.outbox.msgs...)
	e.outbox.mu.Unlock()
	if len(msgs) != 2 || msgs[0].Kind != notify.KindAccountLocked || msgs[0].To != "bob@example.test" || msgs[0].UserID != e.bob.ID || msgs[0].Data["ip"] != "192.0.2.1" {
		t.Fatalf("lock notices = %+v", msgs)
	}
	m := e.expect("POST", "/auth/admin/users/"+e.bob.ID+"/unlock", admin, "", 200, "")
	if m["unlocked"] != float64(2) {
		t.Fatalf("unlock = %v", m)
	}
	for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		if res := login(ip, alicePW); res.StatusCode != 200 {
			t.Fatalf("after unlock, from %s: %d", ip, res.StatusCode)
		}
	}
	if ev := e.audit.find(audit.Unlocked, e.bob.ID); ev == nil || ev.Actor != e.root.ID || ev.Detail["locked_pairs"] != "2" {
		t.Fatalf("unlocked event = %+v", ev)
	}
	// Locking an identifier nobody owns sends nothing.
	for range 2 {
		r := jsonReq("POST", "/auth/login", `{"email":"ghost@example.test","password":"wrong password here"}`)
		e.portal.ServeHTTP(httptest.NewRecorder(), r)
	}
	e.outbox.mu.Lock()
	n := len(e.outbox.msgs)
	e.outbox.mu.Unlock()
	if n != 2 {
		t.Fatalf("a lock of an unknown identifier queued a message (%d messages)", n)
	}
}

func TestAdminMethodSwitch(t *testing.T) {
	e := newAdminEnv(t, nil)
	admin := e.session(e.root, "totp")
	loginBody := `{"email":"bob@example.test","password":"` + alicePW + `"}`
	m := e.expect("GET", "/auth/admin/methods", admin, "", 200, "")
	if !strings.Contains(mustJSON(m), `{"enabled":true,"method":"password"}`) {
		t.Fatalf("methods = %v", m)
	}
	e.expect("PUT", "/auth/admin/methods/password", admin, `{"enabled":false}`, 200, "")
	if ev := e.audit.find(audit.MethodDisabled, ""); ev == nil || ev.Actor != e.root.ID || ev.Detail["method"] != "password" {
		t.Fatalf("auth_method.disabled event = %+v", ev)
	}
	e.expect("POST", "/auth/login", "", loginBody, 403, CodeMethodDisabled)
	// The login page no longer offers the password form.
	r := httptest.NewRequest("GET", "/auth/login", nil)
	r.Header.Set("Accept", "text/html")
	rec := httptest.NewRecorder()
	e.portal.ServeHTTP(rec, r)
	if body := rec.Body.String(); strings.Contains(body, `name="password"`) || !strings.Contains(body, "turned off") {
		t.Fatalf("login page with password off:\n%s", body)
	}
	// A form post gets the page, also without the form.
	rec = httptest.NewRecorder()
	e.portal.ServeHTTP(rec, formReq("/auth/login", map[string][]string{"email": {"bob@example.test"}, "password": {alicePW}}))
	if rec.Code != 403 || strings.Contains(rec.Body.String(), `name="password"`) {
		t.Fatalf("form login with password off: %d\n%s", rec.Code, rec.Body)
	}
	m = e.expect("GET", "/auth/admin/methods", admin, "", 200, "")
	if !strings.Contains(mustJSON(m), `{"enabled":false,"method":"password"}`) {
		t.Fatalf("methods = %v", m)
	}
	// Other methods are untouched; bad input is refused.
	if ok, _ := e.sw.Enabled(context.Background(), "oauth:google"); !ok {
		t.Fatal("oauth:google disabled too")
	}
	e.expect("PUT", "/auth/admin/methods/bogus", admin, `{"enabled":false}`, 404, CodeMethodUnknown)
	e.expect("PUT", "/auth/admin/methods/password", admin, `{}`, 400, CodeInvalidInput)
	e.expect("PUT", "/auth/admin/methods/password", admin, `{"enabled":"no"}`, 400, CodeInvalidInput)
	e.expect("POST", "/auth/admin/methods/oauth:github", admin, `{"enabled":false}`, 200, "")
	e.expect("POST", "/auth/admin/methods/password", admin, `{"enabled":true}`, 200, "")
	e.expect("POST", "/auth/login", "", loginBody, 200, "")
}

type deadSettings struct{ *memory.Store }

func (deadSettings) Settings(context.Context, string) (map[string]string, error) {
	return nil, store.ErrUnavailable
}

// TestMethodSwitchFailsClosed: when the switch cannot be read, password
// login is refused rather than allowed, as 503 STORE_UNAVAILABLE (an
// outage, not "turned off": found by TestFaultPostgresRestart).
func TestMethodSwitchFailsClosed(t *testing.T) {
	mem := memory.New()
	mgr, _ := session.New(mem, mem, session.Config{CacheTTL: -1})
	dead := methods.New(deadSettings{mem}, -1, nil)
	svc, err := New(Config{Limits: &Limits{}}, Deps{
		Users: mem, Tokens: mem, Sessions: mgr, Hasher: password.New(fastHash, 1),
		Methods: dead, MethodAdmin: dead,
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	svc.Portal("/auth").ServeHTTP(rec, jsonReq("POST", "/auth/login", `{"email":"a@example.test","password":"whatever password"}`))
	if got := decodeErr(t, rec.Result()); got.Code != CodeStoreUnavailable || rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("login with an unreadable switch: %d %+v", rec.Code, got)
	}
}

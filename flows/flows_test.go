package flows

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/policy"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
)

var fastHash = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const alicePW = "correct horse battery staple"

type env struct {
	t      *testing.T
	svc    *Service
	mem    *memory.Store
	ss     *flakySessions
	alice  *store.User
	guard  *Guard
	portal http.Handler
	hasher *password.Hasher
}

// flakySessions can be switched to fail, standing in for a dead Redis.
type flakySessions struct {
	store.SessionStore
	mu   sync.Mutex
	down bool
	// createDown fails only CreateSession.
	createDown bool
}

func (f *flakySessions) isDown() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.down }
func (f *flakySessions) GetSession(ctx context.Context, id string) (*store.Session, error) {
	if f.isDown() {
		return nil, store.ErrUnavailable
	}
	return f.SessionStore.GetSession(ctx, id)
}

func (f *flakySessions) CreateSession(ctx context.Context, s *store.Session) error {
	f.mu.Lock()
	createDown := f.createDown
	f.mu.Unlock()
	if f.isDown() || createDown {
		return store.ErrUnavailable
	}
	return f.SessionStore.CreateSession(ctx, s)
}

func (f *flakySessions) CreateSessionCapped(ctx context.Context, s *store.Session, max int) ([]string, error) {
	f.mu.Lock()
	createDown := f.createDown
	f.mu.Unlock()
	if f.isDown() || createDown {
		return nil, store.ErrUnavailable
	}
	return f.SessionStore.CreateSessionCapped(ctx, s, max)
}

func newEnv(t *testing.T, cfg Config, gcfg GuardConfig) *env {
	t.Helper()
	return newEnvWith(t, cfg, gcfg, nil)
}

// newEnvWith lets a test adjust the dependencies (e.g. an outbox).
func newEnvWith(t *testing.T, cfg Config, gcfg GuardConfig, adjust func(*Deps)) *env {
	t.Helper()
	mem := memory.New()
	ss := &flakySessions{SessionStore: mem}
	mgr, err := session.New(ss, mem, session.Config{CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	h := password.New(fastHash, 4)
	if cfg.Limits == nil {
		cfg.Limits = &Limits{} // most tests log in many times; limits have their own tests
	}
	deps := Deps{Users: mem, Tokens: mem, Sessions: mgr, Hasher: h}
	if adjust != nil {
		adjust(&deps)
	}
	svc, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := h.Hash(context.Background(), alicePW)
	alice := &store.User{ID: keys.NewID(), Email: "alice@example.test", Name: "Alice Liddell", Groups: []string{"finance", "staff"}, Status: store.StatusActive, PasswordHash: hash}
	if err := mem.CreateUser(context.Background(), alice); err != nil {
		t.Fatal(err)
	}
	if gcfg.Base == "" {
		gcfg.Base = "/auth"
	}
	g, err := svc.NewGuard(gcfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, svc: svc, mem: mem, ss: ss, alice: alice, guard: g, portal: svc.Portal("/auth"), hasher: h}
}

// upstream echoes the identity headers it receives.
func (e *env) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, out := e.guard.Check(w, r)
		if out == Handled {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(r.Header)
	})
}

func (e *env) do(r *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	e.handler().ServeHTTP(rec, r)
	return rec.Result()
}

func jsonReq(method, target, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json")
	return r
}

func formReq(target string, v url.Values) *http.Request {
	r := httptest.NewRequest("POST", target, strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", "text/html")
	return r
}

func decodeErr(t *testing.T, res *http.Response) APIError {
	t.Helper()
	var e APIError
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("not a JSON error: %s", b)
	}
	if e.Status != res.StatusCode {
		t.Fatalf("status field %d != HTTP %d", e.Status, res.StatusCode)
	}
	return e
}

func (e *env) login(pw string) *http.Cookie {
	e.t.Helper()
	res := e.do(jsonReq("POST", "/auth/login", `{"email":"ALICE@example.test","password":"`+pw+`"}`))
	if res.StatusCode != 200 {
		e.t.Fatalf("login: %d", res.StatusCode)
	}
	for _, c := range res.Cookies() {
		if c.Name == e.svc.CookieName() {
			return c
		}
	}
	e.t.Fatal("no session cookie")
	return nil
}

func withCookie(r *http.Request, c *http.Cookie) *http.Request {
	r.AddCookie(c)
	return r
}

func TestLoginJSONAndCookieAttributes(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	res := e.do(jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"`+alicePW+`","rd":"/x"}`))
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	if body["authenticated"] != true || body["redirect"] != "/x" {
		t.Fatalf("body %v", body)
	}
	raw := res.Header.Get("Set-Cookie")
	c := res.Cookies()[0]
	if c.Name != "__Host-caddyauth" || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Fatalf("cookie attributes: %s", raw)
	}
	if strings.Contains(mustJSON(body), c.Value) {
		t.Fatal("token in the JSON body")
	}
}

func TestLoginFormRedirects(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	for _, tc := range []struct{ rd, want string }{
		{"/dashboard?a=1", "/dashboard?a=1"},
		{"https://example.com/x", "https://example.com/x"}, // httptest host is example.com
		{"//evil.test/", "/auth/login"},
		{"/\\evil.test", "/auth/login"},
		{"https:evil.test", "/auth/login"},
		{"javascript:alert(1)", "/auth/login"},
		{"https://evil.test/", "/auth/login"},
		{"", "/auth/login"},
	} {
		r := formReq("https://example.com/auth/login", url.Values{"email": {"alice@example.test"}, "password": {alicePW}, "rd": {tc.rd}})
		r.TLS = &tls.ConnectionState{}
		res := e.do(r)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != tc.want {
			t.Errorf("rd %q: %d Location %q, want %q", tc.rd, res.StatusCode, res.Header.Get("Location"), tc.want)
		}
	}
}

func TestWrongPasswordAndUnknownUserLookAlike(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	bob := &store.User{ID: keys.NewID(), Email: "bob@example.test", Status: store.StatusDisabled}
	bob.PasswordHash, _ = e.hasher.Hash(context.Background(), "bobs password is long")
	_ = e.mem.CreateUser(context.Background(), bob)
	var bodies []string
	for _, body := range []string{
		`{"email":"alice@example.test","password":"wrong password here"}`,
		`{"email":"nobody@example.test","password":"wrong password here"}`,
		`{"email":"bob@example.test","password":"bobs password is long"}`, // disabled
		`{"email":"alice@example.test","password":"` + strings.Repeat("a", 5000) + `"}`,
	} {
		res := e.do(jsonReq("POST", "/auth/login", body))
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 401 || len(res.Cookies()) != 0 {
			t.Fatalf("%s: %d", body[:40], res.StatusCode)
		}
		bodies = append(bodies, string(b))
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Fatalf("responses differ: %q vs %q", b, bodies[0])
		}
	}
	if !strings.Contains(bodies[0], CodeInvalidCredentials) {
		t.Fatal(bodies[0])
	}
}

func TestLoginTimingUnknownVsKnown(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	// Real cost parameters so the hash dominates, as in production.
	e.svc.deps.Hasher = password.New(password.Params{Memory: 8 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, 4)
	hash, _ := e.svc.deps.Hasher.Hash(context.Background(), alicePW)
	e.alice.PasswordHash = hash
	_ = e.mem.UpdateUser(context.Background(), e.alice)
	// Alternate the two kinds and compare medians, so load from other
	// processes hits both alike. Without the dummy hash an unknown user
	// would answer in a small fraction of the hash time.
	one := func(email string) time.Duration {
		start := time.Now()
		e.do(jsonReq("POST", "/auth/login", `{"email":"`+email+`","password":"wrong password here"}`))
		return time.Since(start)
	}
	var known, unknown []time.Duration
	for i := 0; i < 21; i++ {
		known = append(known, one("alice@example.test"))
		unknown = append(unknown, one("nobody@example.test"))
	}
	k, u := median(known), median(unknown)
	if ratio := float64(u) / float64(k); ratio < 0.5 || ratio > 2 {
		t.Fatalf("unknown user %v vs known user %v (medians): timing reveals who exists", u, k)
	}

	// The same by phone: an unknown number costs a lookup and the dummy
	// hash, like a known one.
	e.alice.Phone, e.alice.PhoneVerifiedAt = "+15550100000", time.Unix(1, 0)
	_ = e.mem.UpdateUser(context.Background(), e.alice)
	byPhone := func(phone string) time.Duration {
		start := time.Now()
		e.do(jsonReq("POST", "/auth/login", `{"phone":"`+phone+`","password":"wrong password here"}`))
		return time.Since(start)
	}
	known, unknown = known[:0], unknown[:0]
	for i := 0; i < 21; i++ {
		known = append(known, byPhone("+15550100000"))
		unknown = append(unknown, byPhone("+15550199999"))
	}
	k, u = median(known), median(unknown)
	if ratio := float64(u) / float64(k); ratio < 0.5 || ratio > 2 {
		t.Fatalf("unknown phone %v vs known phone %v (medians): timing reveals who exists", u, k)
	}
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func TestInvalidInput(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	for _, body := range []string{
		`{"email":"a@b","password":"x","extra":1}`,
		`{"email":`,
		`[]`,
		`{"email":"a@b","password":"x"} {}`,
		`{"email":"","password":""}`,
		`{"email":1}`,
	} {
		res := e.do(jsonReq("POST", "/auth/login", body))
		if got := decodeErr(t, res); got.Code != CodeInvalidInput {
			t.Errorf("%s: %+v", body, got)
		}
	}
	r := formReq("/auth/login", url.Values{"email": {"a@b"}, "password": {"x"}, "is_admin": {"1"}})
	r.Header.Set("Accept", "application/json")
	if got := decodeErr(t, e.do(r)); got.Code != CodeInvalidInput {
		t.Errorf("unknown form field: %+v", got)
	}
	big := jsonReq("POST", "/auth/login", `{"email":"`+strings.Repeat("a", maxBody)+`"}`)
	if got := decodeErr(t, e.do(big)); got.Code != CodeRequestTooLarge {
		t.Errorf("huge body: %+v", got)
	}
	plain := httptest.NewRequest("POST", "/auth/login", strings.NewReader("x"))
	plain.Header.Set("Content-Type", "text/plain")
	if got := decodeErr(t, e.do(plain)); got.Code != CodeUnsupportedMedia {
		t.Errorf("text/plain: %+v", got)
	}
}

func TestGuardFlow(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	// Anonymous browser: redirect to the login page with the original URL.
	r := httptest.NewRequest("GET", "/reports?q=1", nil)
	r.Header.Set("Accept", "text/html,application/xhtml+xml")
	res := e.do(r)
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/auth/login?rd="+url.QueryEscape("/reports?q=1") {
		t.Fatalf("anonymous browser: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	// Anonymous API call: 401 JSON.
	if got := decodeErr(t, e.do(jsonReq("GET", "/api/x", ""))); got.Code != CodeUnauthenticated {
		t.Fatalf("anonymous API: %+v", got)
	}
	// Anonymous form post: 401, not a redirect that would drop the body.
	if res := e.do(formReq("/app/save", url.Values{"a": {"1"}})); res.StatusCode != 401 {
		t.Fatalf("anonymous post: %d", res.StatusCode)
	}
	c := e.login(alicePW)
	// Spoofed identity headers in every spelling are dropped; real ones set.
	r = httptest.NewRequest("GET", "/whoami", nil)
	r.AddCookie(c)
	for _, h := range []string{"Remote-User", "remote-user", "REMOTE_USER", "Remote_User", "remote-EMAIL", "Remote-Groups"} {
		r.Header[h] = []string{"admin"}
	}
	res = e.do(r)
	var got map[string][]string
	_ = json.NewDecoder(res.Body).Decode(&got)
	if res.StatusCode != 200 {
		t.Fatalf("authenticated: %d", res.StatusCode)
	}
	want := map[string]string{"Remote-User": e.alice.ID, "Remote-Email": "alice@example.test", "Remote-Name": "Alice Liddell", "Remote-Groups": "finance,staff"}
	for k, v := range want {
		if len(got[k]) != 1 || got[k][0] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for k, v := range got {
		if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), "remote-user") && k != "Remote-User" || len(v) == 1 && v[0] == "admin" {
			t.Errorf("spoofed header %s: %q reached the upstream", k, v)
		}
	}
	// Expired or unknown cookie: SESSION_EXPIRED for APIs.
	r = jsonReq("GET", "/api", "")
	r.AddCookie(&http.Cookie{Name: c.Name, Value: keys.NewToken()})
	if got := decodeErr(t, e.do(r)); got.Code != CodeSessionExpired {
		t.Fatalf("unknown token: %+v", got)
	}
}

func TestSessionCookieNotForwarded(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{Public: []string{"/pub"}})
	c := e.login(alicePW)
	for _, p := range []string{"/app", "/pub"} {
		r := httptest.NewRequest("GET", p, nil)
		r.Header.Add("Cookie", "theme=dark; "+c.Name+"="+c.Value+"; lang=en")
		r.Header.Add("Cookie", c.Name+"="+c.Value)
		res := e.do(r)
		var got map[string][]string
		_ = json.NewDecoder(res.Body).Decode(&got)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", p, res.StatusCode)
		}
		if cookies := got["Cookie"]; len(cookies) != 1 || cookies[0] != "theme=dark; lang=en" {
			t.Fatalf("%s: upstream got Cookie %q", p, cookies)
		}
	}
	r := httptest.NewRequest("GET", "/app", nil)
	r.AddCookie(c)
	var got map[string][]string
	_ = json.NewDecoder(e.do(r).Body).Decode(&got)
	if _, ok := got["Cookie"]; ok {
		t.Fatalf("empty Cookie header forwarded: %q", got["Cookie"])
	}
}

func TestSpoofedHeadersStrippedOnPublicAndAnonymous(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{Public: []string{"/health", "/static/*"}})
	for _, p := range []string{"/health", "/static/app.css"} {
		r := httptest.NewRequest("GET", p, nil)
		r.Header.Set("Remote-User", "admin")
		r.Header["Remote_Email"] = []string{"admin@x"}
		res := e.do(r)
		var got map[string][]string
		_ = json.NewDecoder(res.Body).Decode(&got)
		if res.StatusCode != 200 || got["Remote-User"] != nil || got["Remote_Email"] != nil {
			t.Fatalf("%s: %d %v", p, res.StatusCode, got)
		}
	}
	for _, p := range []string{"/static/../admin", "/health/", "/healthz", "//health", "/static"} {
		r := jsonReq("GET", "/", "")
		r.URL.Path = p
		if res := e.do(r); res.StatusCode != 401 {
			t.Errorf("%s: %d, want 401", p, res.StatusCode)
		}
	}
}

func TestPolicy(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{Policy: policy.Policy{Allow: []policy.Rule{{Kind: "group", Values: []string{"admins"}}}}})
	c := e.login(alicePW)
	r := jsonReq("GET", "/admin", "")
	r.AddCookie(c)
	if got := decodeErr(t, e.do(r)); got.Code != CodeForbidden {
		t.Fatalf("%+v", got)
	}
	r = httptest.NewRequest("GET", "/admin", nil)
	r.Header.Set("Accept", "text/html")
	r.AddCookie(c)
	res := e.do(r)
	if res.StatusCode != 403 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("browser 403: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

func TestStoreDownFailsClosed(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	c := e.login(alicePW)
	e.ss.mu.Lock()
	e.ss.down = true
	e.ss.mu.Unlock()
	for _, accept := range []string{"application/json", "text/html"} {
		r := httptest.NewRequest("GET", "/page", nil)
		r.Header.Set("Accept", accept)
		r.AddCookie(c)
		res := e.do(r)
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Location") != "" {
			t.Fatalf("%s: %d %q", accept, res.StatusCode, res.Header.Get("Location"))
		}
	}
	if got := decodeErr(t, e.do(withCookie(jsonReq("GET", "/x", ""), c))); got.Code != CodeStoreUnavailable {
		t.Fatalf("%+v", got)
	}
	// Login cannot create a session either: 503, never a cookie.
	res := e.do(jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"`+alicePW+`"}`))
	if res.StatusCode != 503 || len(res.Cookies()) != 0 {
		t.Fatalf("login while down: %d", res.StatusCode)
	}
}

func TestLogoutAndReplay(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	c := e.login(alicePW)
	other := e.login(alicePW)
	res := e.do(withCookie(jsonReq("POST", "/auth/logout", ""), c))
	if res.StatusCode != 200 {
		t.Fatalf("logout %d", res.StatusCode)
	}
	cleared := res.Cookies()[0]
	if cleared.MaxAge >= 0 || cleared.Value != "" {
		t.Fatal("cookie not cleared")
	}
	if res := e.do(withCookie(jsonReq("GET", "/app", ""), c)); res.StatusCode != 401 {
		t.Fatalf("replayed cookie after logout: %d", res.StatusCode)
	}
	if res := e.do(withCookie(jsonReq("GET", "/app", ""), other)); res.StatusCode != 200 {
		t.Fatalf("other session hit by single logout: %d", res.StatusCode)
	}
	third := e.login(alicePW)
	if res := e.do(withCookie(jsonReq("POST", "/auth/logout-all", ""), third)); res.StatusCode != 200 {
		t.Fatalf("logout-all %d", res.StatusCode)
	}
	for _, ck := range []*http.Cookie{other, third} {
		if res := e.do(withCookie(jsonReq("GET", "/app", ""), ck)); res.StatusCode != 401 {
			t.Fatalf("session survived logout-all: %d", res.StatusCode)
		}
	}
	if res := e.do(httptest.NewRequest("GET", "/auth/logout", nil)); res.StatusCode != 405 {
		t.Fatalf("GET logout: %d", res.StatusCode)
	}
}

func TestLoginRotatesSession(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	old := e.login(alicePW)
	r := jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"`+alicePW+`"}`)
	r.AddCookie(old)
	res := e.do(r)
	if res.StatusCode != 200 || res.Cookies()[0].Value == old.Value {
		t.Fatal("login kept the old token")
	}
	if res := e.do(withCookie(jsonReq("GET", "/app", ""), old)); res.StatusCode != 401 {
		t.Fatal("pre-login session still valid after a new login")
	}
}

func TestSessionEndpoints(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	if got := decodeErr(t, e.do(jsonReq("GET", "/auth/session", ""))); got.Code != CodeUnauthenticated {
		t.Fatalf("%+v", got)
	}
	a := e.login(alicePW)
	b := e.login(alicePW)
	res := e.do(withCookie(jsonReq("GET", "/auth/session", ""), a))
	var who struct {
		User userView `json:"user"`
	}
	_ = json.NewDecoder(res.Body).Decode(&who)
	if res.StatusCode != 200 || who.User.Email != "alice@example.test" {
		t.Fatalf("session: %d %+v", res.StatusCode, who)
	}
	res = e.do(withCookie(jsonReq("GET", "/auth/sessions", ""), a))
	var list struct {
		Sessions []sessionView `json:"sessions"`
	}
	_ = json.NewDecoder(res.Body).Decode(&list)
	if len(list.Sessions) != 2 {
		t.Fatalf("%d sessions", len(list.Sessions))
	}
	var bID string
	for _, s := range list.Sessions {
		if !s.Current {
			bID = s.ID
		}
	}
	if res := e.do(withCookie(jsonReq("DELETE", "/auth/sessions/"+bID, ""), a)); res.StatusCode != 200 {
		t.Fatalf("delete: %d", res.StatusCode)
	}
	if res := e.do(withCookie(jsonReq("GET", "/auth/session", ""), b)); res.StatusCode != 401 {
		t.Fatal("deleted session alive")
	}
	if res := e.do(withCookie(jsonReq("DELETE", "/auth/sessions/doesnotexist", ""), a)); res.StatusCode != 404 {
		t.Fatalf("delete unknown: %d", res.StatusCode)
	}
}

func TestPortalSecurityHeaders(t *testing.T) {
	e := newEnv(t, Config{HSTS: "max-age=31536000; includeSubDomains"}, GuardConfig{})
	r := httptest.NewRequest("GET", "https://app.test/auth/login", nil)
	r.Header.Set("Accept", "text/html")
	res := e.do(r)
	h := res.Header
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Strict-Transport-Security") != "max-age=31536000; includeSubDomains" || h.Get("Referrer-Policy") != "same-origin" {
		t.Fatalf("headers %v", h)
	}
	body, _ := io.ReadAll(res.Body)
	page := string(body)
	for _, want := range []string{`type="password"`, `autocomplete="current-password"`, `autocomplete="username"`, `<label for="email">`} {
		if !strings.Contains(page, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
	for _, bad := range []string{"<script", "onpaste", `autocomplete="off"`, "style="} {
		if strings.Contains(page, bad) {
			t.Errorf("login page has %s", bad)
		}
	}
	// Protected responses carry HSTS too.
	r = httptest.NewRequest("GET", "https://app.test/x", nil)
	if res := e.do(r); res.Header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS on a protected response")
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	c := e.login(alicePW)
	for _, hdr := range []map[string]string{
		{"Origin": "https://evil.test"},
		{"Sec-Fetch-Site": "cross-site"},
	} {
		r := withCookie(formReq("https://app.test/auth/logout", url.Values{}), c)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		res := e.do(r)
		if res.StatusCode != 403 {
			t.Fatalf("%v: %d", hdr, res.StatusCode)
		}
	}
	if res := e.do(withCookie(jsonReq("GET", "/app", ""), c)); res.StatusCode != 200 {
		t.Fatal("cross-origin logout went through")
	}
	r := withCookie(formReq("https://app.test/auth/logout", url.Values{}), c)
	r.Header.Set("Origin", "https://app.test")
	r.Host = "app.test"
	if res := e.do(r); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin logout: %d", res.StatusCode)
	}
}

func TestSetupFlow(t *testing.T) {
	mem := memory.New()
	mgr, _ := session.New(mem, mem, session.Config{})
	svc, err := New(Config{}, Deps{Users: mem, Tokens: mem, Sessions: mgr, Hasher: password.New(fastHash, 2)})
	if err != nil {
		t.Fatal(err)
	}
	p := svc.Portal("/auth")
	do := func(r *http.Request) *http.Response {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, r)
		return rec.Result()
	}
	ctx := context.Background()
	tok, _, err := svc.NewSetupToken(ctx)
	if err != nil || tok == "" {
		t.Fatalf("token %q %v", tok, err)
	}
	r := httptest.NewRequest("GET", "/auth/setup?token="+tok, nil)
	r.Header.Set("Accept", "text/html")
	if res := do(r); res.StatusCode != 200 {
		t.Fatalf("setup page %d", res.StatusCode)
	}
	if res := do(httptest.NewRequest("GET", "/auth/setup?token="+keys.NewToken(), nil)); res.StatusCode != 404 {
		t.Fatalf("wrong token: %d", res.StatusCode)
	}
	// A short password is refused and does not burn the token.
	res := do(jsonReq("POST", "/auth/setup", `{"token":"`+tok+`","email":"root@example.test","password":"short"}`))
	if res.StatusCode != 400 {
		t.Fatalf("short password: %d", res.StatusCode)
	}
	res = do(jsonReq("POST", "/auth/setup", `{"token":"`+tok+`","email":"Root@example.test","name":"Root","password":"a long enough passphrase"}`))
	if res.StatusCode != 200 || len(res.Cookies()) == 0 {
		t.Fatalf("setup: %d", res.StatusCode)
	}
	u, err := mem.UserByEmail(ctx, "root@example.test")
	if err != nil || len(u.Groups) != 1 || u.Groups[0] != "admin" {
		t.Fatalf("admin: %+v %v", u, err)
	}
	// Gone afterwards, even with a second fresh token.
	if tok2, _, _ := svc.NewSetupToken(ctx); tok2 != "" {
		t.Fatal("setup token issued while a user exists")
	}
	res = do(jsonReq("POST", "/auth/setup", `{"token":"`+tok+`","email":"x@example.test","password":"a long enough passphrase"}`))
	if res.StatusCode != 404 {
		t.Fatalf("reused setup: %d", res.StatusCode)
	}
	if n, _ := mem.CountUsers(ctx); n != 1 {
		t.Fatalf("%d users", n)
	}
}

func TestCookieNaming(t *testing.T) {
	for _, tc := range []struct {
		base, domain string
		insecure     bool
		want         string
	}{
		{"", "", false, "__Host-caddyauth"},
		{"sid", "example.com", false, "__Secure-sid"},
		{"sid", "", true, "sid"},
		{"__Host-x", "", false, "__Host-x"},
	} {
		if got := CookieName(tc.base, tc.domain, tc.insecure); got != tc.want {
			t.Errorf("%+v: %s", tc, got)
		}
	}
	mem := memory.New()
	mgr, _ := session.New(mem, mem, session.Config{})
	deps := Deps{Users: mem, Tokens: mem, Sessions: mgr, Hasher: password.New(fastHash, 1)}
	if _, err := New(Config{Cookie: CookieConfig{Name: "__Host-x", Domain: "example.com"}}, deps); err == nil {
		t.Fatal("__Host- with a domain accepted")
	}
	if _, err := New(Config{Cookie: CookieConfig{SameSite: http.SameSiteNoneMode, Insecure: true}}, deps); err == nil {
		t.Fatal("SameSite=None without Secure accepted")
	}
}

func TestHeaderOverrides(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{Headers: []HeaderTemplate{
		{Name: "Remote-User", Template: "{http.auth.user.email}"},
		{Name: "Remote-Name"},
		{Name: "X-Auth-Who", Template: "id={http.auth.user.id};g={http.auth.user.groups}"},
	}})
	c := e.login(alicePW)
	r := withCookie(httptest.NewRequest("GET", "/", nil), c)
	r.Header.Set("x_auth_who", "spoof")
	r.Header.Set("Remote-Name", "spoof")
	res := e.do(r)
	var got map[string][]string
	_ = json.NewDecoder(res.Body).Decode(&got)
	if got["Remote-User"][0] != "alice@example.test" || got["Remote-Name"] != nil || got["X-Auth-Who"][0] != "id="+e.alice.ID+";g=finance,staff" || got["X_auth_who"] != nil {
		t.Fatalf("%v", got)
	}
	mem := memory.New()
	mgr, _ := session.New(mem, mem, session.Config{})
	svc, _ := New(Config{}, Deps{Users: mem, Tokens: mem, Sessions: mgr, Hasher: password.New(fastHash, 1)})
	for _, bad := range []HeaderTemplate{{Name: "Bad Name", Template: "x"}, {Name: "X", Template: "{http.auth.user.password}"}, {Name: "X", Template: "{http.auth.user.id"}} {
		if _, err := svc.NewGuard(GuardConfig{Base: "/auth", Headers: []HeaderTemplate{bad}}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestExternalPortalRedirect(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{PortalURL: "https://auth.example.test/auth/"})
	r := httptest.NewRequest("GET", "https://app.example.test/x?y=1", nil)
	r.Header.Set("Accept", "text/html")
	res := e.do(r)
	want := "https://auth.example.test/auth/login?rd=" + url.QueryEscape("https://app.example.test/x?y=1")
	if res.Header.Get("Location") != want {
		t.Fatalf("%q", res.Header.Get("Location"))
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var _ = errors.Is

// loginAs signs in as email/pw through the JSON API and returns the
// session cookie.
func (e *env) loginAs(email, pw string) *http.Cookie {
	e.t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": pw})
	res := e.do(jsonReq("POST", "/auth/login", string(b)))
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("login as %s: %d", email, res.StatusCode)
	}
	for _, c := range res.Cookies() {
		if c.Name == e.svc.CookieName() {
			return c
		}
	}
	e.t.Fatal("no session cookie")
	return nil
}

// sessionsOf is GET /auth/sessions with cookie c.
func (e *env) sessionsOf(c *http.Cookie) []sessionView {
	e.t.Helper()
	res := e.do(withCookie(jsonReq("GET", "/auth/sessions", ""), c))
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /auth/sessions: %d", res.StatusCode)
	}
	var list struct {
		Sessions []sessionView `json:"sessions"`
	}
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		e.t.Fatal(err)
	}
	return list.Sessions
}

// TestSessionOwnership (SECURITY.md 8.2.2): GET /auth/sessions lists only
// the caller's sessions, and DELETE /auth/sessions/{id} with the real
// public id of another user's session answers 404 NOT_FOUND (the same as
// an unknown id, so it does not confirm the id exists) and leaves that
// session alive.
func TestSessionOwnership(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	const bobPW = "bobs own long passphrase"
	hash, _ := e.hasher.Hash(context.Background(), bobPW)
	bob := &store.User{ID: keys.NewID(), Email: "bob@example.test", Name: "Bob", Groups: []string{"staff"}, Status: store.StatusActive, PasswordHash: hash}
	if err := e.mem.CreateUser(context.Background(), bob); err != nil {
		t.Fatal(err)
	}
	a1 := e.login(alicePW)
	a2 := e.login(alicePW)
	b1 := e.loginAs("bob@example.test", bobPW)

	aliceIDs := map[string]bool{}
	for _, s := range e.sessionsOf(a1) {
		aliceIDs[s.ID] = true
	}
	if len(aliceIDs) != 2 {
		t.Fatalf("Alice lists %d sessions, want her 2", len(aliceIDs))
	}
	bobList := e.sessionsOf(b1)
	if len(bobList) != 1 || !bobList[0].Current {
		t.Fatalf("Bob lists %+v, want only his own current session", bobList)
	}
	if aliceIDs[bobList[0].ID] {
		t.Fatalf("Bob's session %s appears in Alice's list", bobList[0].ID)
	}

	for aliceID := range aliceIDs {
		res := e.do(withCookie(jsonReq("DELETE", "/auth/sessions/"+aliceID, ""), b1))
		if res.StatusCode != http.StatusNotFound {
			t.Fatalf("Bob deleting Alice's session: %d, want 404", res.StatusCode)
		}
		if got := decodeErr(t, res); got.Code != CodeNotFound {
			t.Fatalf("Bob deleting Alice's session: %+v", got)
		}
	}
	// Both of Alice's sessions still work, and she still lists both.
	for _, c := range []*http.Cookie{a1, a2} {
		if res := e.do(withCookie(jsonReq("GET", "/app", ""), c)); res.StatusCode != http.StatusOK {
			t.Fatalf("Alice's session after Bob's delete: %d", res.StatusCode)
		}
	}
	if n := len(e.sessionsOf(a2)); n != 2 {
		t.Fatalf("Alice lists %d sessions after Bob's delete, want 2", n)
	}
	// Bob's own session is untouched by the refused deletes and he can
	// still end it himself.
	if res := e.do(withCookie(jsonReq("DELETE", "/auth/sessions/"+bobList[0].ID, ""), b1)); res.StatusCode != http.StatusOK {
		t.Fatalf("Bob deleting his own session: %d", res.StatusCode)
	}
	if res := e.do(withCookie(jsonReq("GET", "/app", ""), b1)); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("Bob's deleted session still works: %d", res.StatusCode)
	}
	if res := e.do(withCookie(jsonReq("GET", "/app", ""), a1)); res.StatusCode != http.StatusOK {
		t.Fatalf("Alice's session after Bob deleted his own: %d", res.StatusCode)
	}
}

var inputTag = regexp.MustCompile(`<input\b[^>]*>`)

// attr is the value of attribute name in an HTML tag ("" if absent).
func attr(tag, name string) string {
	m := regexp.MustCompile(`\s` + name + `="([^"]*)"`).FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestSetupPageFields (SECURITY.md 6.2.6 / 6.2.7): the first-run setup
// form, as served and as re-rendered after a mistake, has its password
// inputs as type="password" with autocomplete="new-password" (so password
// managers offer to generate and save), and nothing that blocks paste or
// password managers.
func TestSetupPageFields(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	// Setup is only offered while no user exists.
	if err := e.mem.DeleteUser(context.Background(), e.alice.ID); err != nil {
		t.Fatal(err)
	}
	tok, _, err := e.svc.NewSetupToken(context.Background())
	if err != nil || tok == "" {
		t.Fatalf("setup token: %v", err)
	}
	get := httptest.NewRequest("GET", "/auth/setup?token="+tok, nil)
	get.Header.Set("Accept", "text/html")
	retry := formReq("/auth/setup", url.Values{"token": {tok}, "email": {"root@example.test"}, "password": {"short"}, "confirm": {"short"}})
	for name, r := range map[string]*http.Request{"setup page": get, "setup page after a mistake": retry} {
		rec := httptest.NewRecorder()
		e.portal.ServeHTTP(rec, r)
		page := rec.Body.String()
		if !strings.Contains(page, `action="/auth/setup"`) {
			t.Fatalf("%s: no setup form (%d):\n%s", name, rec.Code, page)
		}
		passwords := 0
		for _, tag := range inputTag.FindAllString(page, -1) {
			switch attr(tag, "name") {
			case "password", "confirm":
				passwords++
				if attr(tag, "type") != "password" {
					t.Errorf("%s: %s is not type=password", name, tag)
				}
				if attr(tag, "autocomplete") != "new-password" {
					t.Errorf("%s: %s lacks autocomplete=new-password", name, tag)
				}
			}
		}
		if passwords != 2 {
			t.Errorf("%s: %d password inputs, want password and confirm", name, passwords)
		}
		for _, bad := range []string{`autocomplete="off"`, "onpaste", "oncopy", "ondrop"} {
			if strings.Contains(strings.ToLower(page), bad) {
				t.Errorf("%s has %s", name, bad)
			}
		}
	}
}

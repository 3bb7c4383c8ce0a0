package flows

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/policy"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
)

// countingObserver counts the Error and StoreError events by label.
type countingObserver struct {
	nopObserver
	mu     sync.Mutex
	errs   map[string]int
	stores map[string]int
}

func newCountingObserver() *countingObserver {
	return &countingObserver{errs: map[string]int{}, stores: map[string]int{}}
}

func (o *countingObserver) Error(code string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.errs[code]++
}

func (o *countingObserver) StoreError(op string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stores[op]++
}

// take returns the counts since the last take and starts afresh.
func (o *countingObserver) take() (errs, stores map[string]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	errs, stores = o.errs, o.stores
	o.errs, o.stores = map[string]int{}, map[string]int{}
	return errs, stores
}

func htmlReq(method, target string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.Header.Set("Accept", "text/html")
	return r
}

// TestErrorCountedOnce: every way a handler answers an error counts its
// code exactly once (the one answer path), whichever form the answer
// takes (JSON, the error page, a form shown again).
func TestErrorCountedOnce(t *testing.T) {
	obs := newCountingObserver()
	m := &mfaEnv{clk: newClock(), queue: &captureQueue{}, aud: &memAudit{}}
	m.env = newEnvWith(t, Config{Observer: obs, Now: m.clk.Now}, GuardConfig{}, func(d *Deps) { d.Outbox = m.queue; d.Audit = m.aud })
	e := m.env
	full := e.login(alicePW)
	// Bob has a second factor: his password opens a challenge stage.
	bobPW := "another correct horse battery"
	hash, _ := e.hasher.Hash(context.Background(), bobPW)
	bob := &store.User{ID: "bob", Email: "bob@example.test", Name: "Bob", Status: store.StatusActive, PasswordHash: hash}
	if err := e.mem.CreateUser(context.Background(), bob); err != nil {
		t.Fatal(err)
	}
	bobFull := sessionCookie(t, e, e.do(jsonReq("POST", "/auth/login", `{"email":"bob@example.test","password":"`+bobPW+`"}`)))
	_, _, bobMFA := m.enrol(bobFull)
	stage := sessionCookie(t, e, e.do(jsonReq("POST", "/auth/login", `{"email":"bob@example.test","password":"`+bobPW+`"}`)))
	// Alice half way through adding an authenticator.
	if res := e.do(withCookie(jsonReq("POST", "/auth/mfa/totp/setup", `{"name":"phone"}`), full)); res.StatusCode != 200 {
		t.Fatalf("totp setup: %d", res.StatusCode)
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()

	deny := newEnvWith(t, Config{Observer: obs}, GuardConfig{Policy: policy.Policy{Allow: []policy.Rule{{Kind: "group", Values: []string{"admins"}}}}}, nil)
	denyCookie := deny.login(alicePW)
	down := newEnvWith(t, Config{Observer: obs}, GuardConfig{}, nil)
	downCookie := down.login(alicePW)
	stepUp := newEnvWith(t, Config{Observer: obs}, GuardConfig{RequireMFA: true}, nil)
	stepUpCookie := stepUp.login(alicePW)
	setDown := func(on bool) {
		down.ss.mu.Lock()
		down.ss.down = on
		down.ss.mu.Unlock()
	}
	obs.take()

	form := func(target string, v url.Values, c *http.Cookie) *http.Request {
		r := formReq("http://example.com"+target, v)
		if c != nil {
			r.AddCookie(c)
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		env    *env
		req    func() *http.Request
		down   bool
		status int
		code   string
		store  string // the StoreError op counted once, if any
	}{
		{"portal 404, JSON", e, func() *http.Request { return jsonReq("GET", "/auth/nothing", "") }, false, 404, CodeNotFound, ""},
		{"portal 404, page", e, func() *http.Request { return htmlReq("GET", "/auth/nothing") }, false, 404, CodeNotFound, ""},
		{"405", e, func() *http.Request { return jsonReq("GET", "/auth/logout", "") }, false, 405, CodeMethodNotAllowed, ""},
		{"cross-origin post", e, func() *http.Request {
			r := form("/auth/logout", url.Values{}, full)
			r.Header.Set("Origin", "https://evil.test")
			return r
		}, false, 403, CodeCrossOrigin, ""},
		{"bad JSON", e, func() *http.Request { return jsonReq("POST", "/auth/login", `{`) }, false, 400, CodeInvalidInput, ""},
		{"wrong password, JSON", e, func() *http.Request {
			return jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"wrong password here"}`)
		}, false, 401, CodeInvalidCredentials, ""},
		{"wrong password, login form again", e, func() *http.Request {
			return form("/auth/login", url.Values{"email": {"alice@example.test"}, "password": {"wrong password here"}}, nil)
		}, false, 401, CodeInvalidCredentials, ""},
		{"no session, JSON API", e, func() *http.Request { return jsonReq("GET", "/auth/session", "") }, false, 401, CodeUnauthenticated, ""},
		{"challenge stage, JSON API", e, func() *http.Request { return withCookie(jsonReq("GET", "/auth/sessions", ""), stage) }, false, 401, CodeMFARequired, ""},
		{"no session, change password page", e, func() *http.Request { return form("/auth/change-password", url.Values{}, nil) }, false, 401, CodeUnauthenticated, ""},
		{"wrong current password, form again", e, func() *http.Request {
			return form("/auth/change-password", url.Values{"current_password": {"not the password at all"}, "new_password": {"a brand new long passphrase"}}, full)
		}, false, 401, CodeInvalidCredentials, ""},
		{"change password, missing field, JSON", e, func() *http.Request {
			return withCookie(jsonReq("POST", "/auth/change-password", `{"current_password":"x"}`), full)
		}, false, 400, CodeInvalidInput, ""},
		{"wrong MFA code, JSON", e, func() *http.Request {
			return withCookie(jsonReq("POST", "/auth/mfa/challenge", `{"method":"totp","code":"000000"}`), stage)
		}, false, 401, CodeMFACodeInvalid, ""},
		{"wrong MFA code, challenge form again", e, func() *http.Request {
			return form("/auth/mfa/challenge", url.Values{"method": {"totp"}, "code": {"000000"}}, stage)
		}, false, 401, CodeMFACodeInvalid, ""},
		{"wrong code confirming an authenticator, JSON", e, func() *http.Request {
			return withCookie(jsonReq("POST", "/auth/mfa/totp/verify", `{"code":"000000"}`), full)
		}, false, 401, CodeMFACodeInvalid, ""},
		{"wrong code confirming an authenticator, setup form again", e, func() *http.Request {
			return form("/auth/mfa/totp/verify", url.Values{"code": {"000000"}}, full)
		}, false, 401, CodeMFACodeInvalid, ""},
		{"removing an unknown authenticator", e, func() *http.Request {
			return withCookie(jsonReq("POST", "/auth/mfa/totp/nope/delete", ""), bobMFA)
		}, false, 404, CodeNotFound, ""},
		{"admin API, anonymous", e, func() *http.Request { return htmlReq("GET", "/auth/admin/users") }, false, 401, CodeUnauthenticated, ""},
		{"admin API, not an admin", e, func() *http.Request { return withCookie(jsonReq("GET", "/auth/admin/users", ""), full) }, false, 403, CodeForbidden, ""},
		{"protect, anonymous", e, func() *http.Request { return jsonReq("GET", "/app", "") }, false, 401, CodeUnauthenticated, ""},
		{"protect, step up, JSON", stepUp, func() *http.Request { return withCookie(jsonReq("GET", "/app", ""), stepUpCookie) }, false, 403, CodeMFARequired, ""},
		{"protect, challenge stage, JSON", e, func() *http.Request { return withCookie(jsonReq("GET", "/app", ""), stage) }, false, 401, CodeMFARequired, ""},
		{"protect, forbidden", deny, func() *http.Request { return withCookie(htmlReq("GET", "/app"), denyCookie) }, false, 403, CodeForbidden, ""},
		{"protect, store down", down, func() *http.Request { return withCookie(jsonReq("GET", "/app", ""), downCookie) }, true, 503, CodeStoreUnavailable, "protect"},
		{"login page, store down", down, func() *http.Request { return withCookie(htmlReq("GET", "/auth/login"), downCookie) }, true, 503, CodeStoreUnavailable, "login page"},
		{"admin API, store down", down, func() *http.Request { return withCookie(jsonReq("GET", "/auth/admin/users", ""), downCookie) }, true, 503, CodeStoreUnavailable, "admin auth"},
		{"store call of a client that left", down, func() *http.Request {
			return withCookie(jsonReq("GET", "/auth/session", ""), downCookie).WithContext(gone)
		}, true, 503, CodeStoreUnavailable, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setDown(tc.down)
			defer setDown(false)
			obs.take()
			req := tc.req()
			res := tc.env.do(req)
			// A browser gets a page, except from the admin API (JSON
			// whatever the Accept header says).
			wantHTML := strings.Contains(req.Header.Get("Accept"), "text/html") && !strings.HasPrefix(tc.name, "admin API")
			if gotHTML := strings.HasPrefix(res.Header.Get("Content-Type"), "text/html"); gotHTML != wantHTML {
				t.Errorf("Content-Type %q, want a page: %v", res.Header.Get("Content-Type"), wantHTML)
			}
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			errs, stores := obs.take()
			if want := map[string]int{tc.code: 1}; fmt.Sprint(errs) != fmt.Sprint(want) {
				t.Errorf("error counts %v, want %v", errs, want)
			}
			want := map[string]int{}
			if tc.store != "" {
				want[tc.store] = 1
			}
			if fmt.Sprint(stores) != fmt.Sprint(want) {
				t.Errorf("store error counts %v, want %v", stores, want)
			}
		})
	}
}

// TestSetupRefusalCountedOnce: the setup form shown again with its error
// counts the code like every other error answer.
func TestSetupRefusalCountedOnce(t *testing.T) {
	obs := newCountingObserver()
	mem := memory.New()
	mgr, err := session.New(mem, mem, session.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{Observer: obs}, Deps{Users: mem, Tokens: mem, Sessions: mgr, Hasher: password.New(fastHash, 4)})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := svc.NewSetupToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p := svc.Portal("/auth")
	for _, r := range []*http.Request{
		jsonReq("POST", "/auth/setup", `{"token":"`+tok+`","email":"root@example.test","password":"short"}`),
		formReq("http://example.com/auth/setup", url.Values{"token": {tok}, "email": {"root@example.test"}, "password": {"short"}}),
	} {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, r)
		if rec.Code != 400 {
			t.Fatalf("%s: %d", r.Header.Get("Accept"), rec.Code)
		}
		if errs, _ := obs.take(); fmt.Sprint(errs) != fmt.Sprint(map[string]int{CodeInvalidInput: 1}) {
			t.Errorf("%s: error counts %v, want one INVALID_INPUT", r.Header.Get("Accept"), errs)
		}
	}
}

// TestStoreAnswer is the table of how a failed store or limiter call is
// answered.
func TestStoreAnswer(t *testing.T) {
	live := context.Background()
	gone, cancel := context.WithCancel(live)
	cancel()
	driver := errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	for _, tc := range []struct {
		name      string
		ctx       context.Context
		err       error
		sentinels storeSentinels
		want      *APIError
		outcome   storeOutcome
	}{
		{"not found, answered", live, fmt.Errorf("user u1: %w", store.ErrNotFound), sentinelsAnswer, errNotFound, storeAnswered},
		{"conflict, answered", live, fmt.Errorf("email: %w", store.ErrConflict), sentinelsAnswer, errConflict, storeAnswered},
		{"not found, unexpected", live, store.ErrNotFound, sentinelsFail, errStoreUnavailable, storeOutage},
		{"conflict, unexpected", live, store.ErrConflict, sentinelsFail, errStoreUnavailable, storeOutage},
		{"unavailable", live, fmt.Errorf("redis: %w", store.ErrUnavailable), sentinelsFail, errStoreUnavailable, storeOutage},
		{"unavailable where sentinels answer", live, store.ErrUnavailable, sentinelsAnswer, errStoreUnavailable, storeOutage},
		{"driver error", live, driver, sentinelsAnswer, errStoreUnavailable, storeOutage},
		{"rate-limit backend error", live, fmt.Errorf("ratelimit allow: %w", driver), sentinelsFail, errStoreUnavailable, storeOutage},
		{"store timeout, client still there", live, context.DeadlineExceeded, sentinelsFail, errStoreUnavailable, storeOutage},
		{"client left", gone, context.Canceled, sentinelsFail, errStoreUnavailable, storeCanceled},
		{"client left during an outage", gone, store.ErrUnavailable, sentinelsAnswer, errStoreUnavailable, storeCanceled},
		{"not found, client left", gone, store.ErrNotFound, sentinelsAnswer, errNotFound, storeAnswered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, outcome := storeAnswer(tc.ctx, tc.err, tc.sentinels)
			if got != tc.want || outcome != tc.outcome {
				t.Fatalf("storeAnswer = %v, %d; want %v, %d", got, outcome, tc.want, tc.outcome)
			}
		})
	}
}

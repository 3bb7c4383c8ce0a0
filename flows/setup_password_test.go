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

	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store/memory"
)

// setupEnv is a fresh service with no user, a settable clock and a live
// setup token.
type setupEnv struct {
	t   *testing.T
	svc *Service
	mem *memory.Store
	clk *clock
	p   http.Handler
	tok string
}

func newSetupEnv(t *testing.T) *setupEnv {
	t.Helper()
	mem := memory.New()
	clk := newClock()
	mgr, _ := session.New(mem, mem, session.Config{Now: clk.Now})
	svc, err := New(Config{Now: clk.Now}, Deps{Users: mem, Tokens: mem, Sessions: mgr, Hasher: password.New(fastHash, 4)})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := svc.NewSetupToken(context.Background())
	if err != nil || tok == "" {
		t.Fatalf("setup token %q: %v", tok, err)
	}
	return &setupEnv{t: t, svc: svc, mem: mem, clk: clk, p: svc.Portal("/auth"), tok: tok}
}

func (e *setupEnv) do(r *http.Request) (*http.Response, string) {
	rec := httptest.NewRecorder()
	e.p.ServeHTTP(rec, r)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func (e *setupEnv) setupJSON(email, name, pw string) (*http.Response, string) {
	body, _ := json.Marshal(map[string]string{"token": e.tok, "email": email, "name": name, "password": pw})
	return e.do(jsonReq("POST", "/auth/setup", string(body)))
}

// TestSetupPasswordPolicy: the setup endpoint refuses what the policy
// refuses with 400 INVALID_INPUT and a message that says why, never echoes
// the password, and keeps the token for the next try.
func TestSetupPasswordPolicy(t *testing.T) {
	e := newSetupEnv(t)
	for _, tc := range []struct {
		name, pw, want string
	}{
		{"common, doubled", "passwordpassword", "too common"},
		{"common with digits", "Password1234567", "too common"},
		{"keyboard walk", "qwertyuiopasdfgh", "too common"},
		{"digit run", "123456789012345", "too common"},
		{"one letter repeated", "aaaaaaaaaaaaaaa", "repeats one short pattern"},
		{"email", "root@example.test forever", "email address, your name"},
		{"name", "Rosalind Rosalind 99", "email address, your name"},
		{"service name", "caddyauth is my gateway", "service name"},
		{"14 characters", "fourteen chars", "at least 15 characters"},
		{"14 é", strings.Repeat("é", 14), "at least 15 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := e.setupJSON("root@example.test", "Rosalind", tc.pw)
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			var ae APIError
			if err := json.Unmarshal([]byte(body), &ae); err != nil {
				t.Fatalf("not a JSON error: %s", body)
			}
			if ae.Code != CodeInvalidInput || !strings.Contains(ae.Message, tc.want) {
				t.Errorf("got %s %q, want %s with %q", ae.Code, ae.Message, CodeInvalidInput, tc.want)
			}
			if strings.Contains(body, tc.pw) {
				t.Errorf("the answer echoes the password: %s", body)
			}
		})
	}
	// The browser form: the page comes back with the reason, without the password.
	pw := "passwordpassword"
	r := httptest.NewRequest("POST", "/auth/setup", strings.NewReader(url.Values{
		"token": {e.tok}, "email": {"root@example.test"}, "password": {pw}, "confirm": {pw},
	}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", "text/html")
	res, body := e.do(r)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "too common") || strings.Contains(body, pw) {
		t.Errorf("form: status %d, reason shown %v, password echoed %v", res.StatusCode, strings.Contains(body, "too common"), strings.Contains(body, pw))
	}
	if n, _ := e.mem.CountUsers(context.Background()); n != 0 {
		t.Fatalf("%d users after refused setups", n)
	}
	// The token survived every refusal.
	if res, body := e.setupJSON("root@example.test", "Rosalind", "correct horse battery staple"); res.StatusCode != http.StatusOK {
		t.Fatalf("setup after refusals: %d %s", res.StatusCode, body)
	}
}

// TestSetupLongPasswordThenLogin: a 128-character password (64 would do for
// NIST; more is allowed) is accepted by setup and then signs in.
func TestSetupLongPasswordThenLogin(t *testing.T) {
	e := newSetupEnv(t)
	pw := "Rivers bend where granite yields; ☕ at dawn, owls at dusk, and a lantern for the hollow path home — 1987 miles of quiet roads ok"
	if n := len([]rune(pw)); n != 128 {
		t.Fatalf("fixture has %d characters, want 128", n)
	}
	if res, body := e.setupJSON("root@example.test", "Root", pw); res.StatusCode != http.StatusOK {
		t.Fatalf("setup with a 128-character password: %d %s", res.StatusCode, body)
	}
	login, _ := json.Marshal(map[string]string{"email": "root@example.test", "password": pw})
	res, body := e.do(jsonReq("POST", "/auth/login", string(login)))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("login with the 128-character password: %d %s", res.StatusCode, body)
	}
	wrong, _ := json.Marshal(map[string]string{"email": "root@example.test", "password": pw[:64]})
	if res, _ := e.do(jsonReq("POST", "/auth/login", string(wrong))); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("login with the first 64 characters: %d, want 401", res.StatusCode)
	}
}

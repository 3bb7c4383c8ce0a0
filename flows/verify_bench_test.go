package flows

// Benchmarks of GET /auth/verify (issue 13 item 7): nginx's auth_request
// asking about a request with a cached session cookie or bearer token.
//
//	go test -run '^$' -bench 'Verify' -benchmem ./flows/
//
// As in guard_bench_test.go, the session cache is on and the benchmarks
// fail if the store is read more than the once that fills it: a cached
// verify makes no network call. The verify bucket is on (at a rate that
// never refuses), so its cost is in the figures.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
)

// newVerifyBench is newGuardBench's service with a trusted proxy, the
// verify bucket on, and a verifier for app.example.test.
func newVerifyBench(b testing.TB) (*guardBench, http.Handler) {
	b.Helper()
	mem := memory.New()
	ss := &benchSessions{SessionStore: mem}
	mgr, err := session.New(ss, mem, session.Config{})
	if err != nil {
		b.Fatal(err)
	}
	lim := DefaultLimits()
	lim.Verify = ratelimit.Rate{N: 1 << 30, Per: time.Second}
	h := password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 4)
	svc, err := New(Config{Limits: &lim, TrustedForwarder: func(*http.Request) bool { return true }},
		Deps{Users: mem, Tokens: mem, Sessions: mgr, Hasher: h})
	if err != nil {
		b.Fatal(err)
	}
	u := &store.User{ID: keys.NewID(), Email: "bench@example.test", Name: "Bench Marker", Groups: []string{"finance", "staff"}, Status: store.StatusActive}
	if err := mem.CreateUser(context.Background(), u); err != nil {
		b.Fatal(err)
	}
	id, err := mgr.Create(context.Background(), u, "127.0.0.1", "bench")
	if err != nil {
		b.Fatal(err)
	}
	v, err := svc.NewVerifier("/auth", []VerifyRule{{Site: "app.example.test"}})
	if err != nil {
		b.Fatal(err)
	}
	return &guardBench{svc: svc, ss: ss, user: u, token: id.Token}, svc.PortalWith("/auth", v)
}

// verifyRequest is nginx's subrequest for a request with credential cred
// (a Cookie or Authorization line).
func verifyRequest(key, cred string) *http.Request {
	r := httptest.NewRequest("GET", "http://auth.example.test/auth/verify", nil)
	r.Header.Set("X-Original-URL", "https://app.example.test/api/items?page=2")
	r.Header.Set("X-Original-Method", "GET")
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	r.Header.Set("Accept", "application/json")
	r.Header.Set(key, cred)
	return r
}

func benchVerify(b *testing.B, gb *guardBench, h http.Handler, r *http.Request) {
	w := &benchWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	if w.code != http.StatusOK || w.h.Get("Remote-User") != gb.user.ID || w.h.Get("Remote-Groups") != "finance,staff" {
		b.Fatalf("verify: %d %v", w.code, w.h)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		w.code = 0
		h.ServeHTTP(w, r)
		if w.code != http.StatusOK {
			b.Fatalf("verify: %d", w.code)
		}
	}
	b.StopTimer()
	if n := gb.ss.gets.Load(); n > 1 {
		b.Fatalf("session store read %d times: the cache did not serve verify", n)
	}
}

// BenchmarkVerifyCookieCached: nginx asks about a request with a session
// cookie in the cache: parse X-Original-URL, find the line, Decide, write
// the identity headers.
func BenchmarkVerifyCookieCached(b *testing.B) {
	gb, h := newVerifyBench(b)
	benchVerify(b, gb, h, verifyRequest("Cookie", "theme=dark; "+gb.svc.CookieName()+"="+gb.token+"; _ga=GA1.2.3"))
}

// BenchmarkVerifyBearerCached: the same with Authorization: Bearer (a
// token verified before, its session in the cache).
func BenchmarkVerifyBearerCached(b *testing.B) {
	gb, h := newVerifyBench(b)
	tok := gb.bearerToken(b)
	benchVerify(b, gb, h, verifyRequest("Authorization", "Bearer "+tok))
}

// BenchmarkVerifyAnonymous: a request with no credential (the 401 with
// the sign-in URL nginx turns into a redirect).
func BenchmarkVerifyAnonymous(b *testing.B) {
	_, h := newVerifyBench(b)
	r := verifyRequest("Accept", "text/html")
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		h.ServeHTTP(w, r)
		if w.code != http.StatusUnauthorized || w.h.Get(VerifyHeader) == "" {
			b.Fatalf("anonymous: %d %v", w.code, w.h)
		}
	}
}

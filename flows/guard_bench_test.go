package flows

// Benchmarks of the per-request work of a protected site: Guard.Check.
//
//	go test -run '^$' -bench . -benchmem ./flows/ ./internal/session/
//
// Unlike newEnv (flows_test.go), which turns the session cache off so the
// tests see every store change at once, these build the Service with the
// session.Config defaults: the 5 s in-process cache is on, as in production,
// and an authenticated request is served from it (the benchmarks fail if the
// store is asked for the session more than the one time that fills the
// cache). See docs/benchmarks.md for results.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
)

// benchSessions counts store reads, to prove the cache serves the loop.
type benchSessions struct {
	store.SessionStore
	gets atomic.Int64
}

func (c *benchSessions) GetSession(ctx context.Context, id string) (*store.Session, error) {
	c.gets.Add(1)
	return c.SessionStore.GetSession(ctx, id)
}

type guardBench struct {
	svc   *Service
	guard *Guard
	ss    *benchSessions
	user  *store.User
	token string
}

// newGuardBench builds a Service over store/memory with the session.Config
// defaults (cache on, unless cacheTTL is negative) and one signed-in user.
func newGuardBench(b testing.TB, cacheTTL int) *guardBench {
	b.Helper()
	mem := memory.New()
	ss := &benchSessions{SessionStore: mem}
	var scfg session.Config
	if cacheTTL < 0 {
		scfg.CacheTTL = -1
	}
	mgr, err := session.New(ss, mem, scfg)
	if err != nil {
		b.Fatal(err)
	}
	h := password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 4)
	svc, err := New(Config{}, Deps{Users: mem, Tokens: mem, Sessions: mgr, Hasher: h})
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
	g, err := svc.NewGuard(GuardConfig{Base: "/auth"})
	if err != nil {
		b.Fatal(err)
	}
	return &guardBench{svc: svc, guard: g, ss: ss, user: u, token: id.Token}
}

// request is what a browser or API client with a session sends: the
// session cookie between two of the app's own cookies.
func (gb *guardBench) request(withCookie bool) *http.Request {
	r := httptest.NewRequest("GET", "http://app.example.test/api/items?page=2", nil)
	r.Header.Set("Accept", "application/json")
	r.Header.Set("User-Agent", "bench/1.0")
	r.Header.Set("Accept-Encoding", "gzip")
	if withCookie {
		r.Header["Cookie"] = gb.cookieLine()
	}
	return r
}

func (gb *guardBench) cookieLine() []string {
	return []string{"theme=dark; " + gb.svc.CookieName() + "=" + gb.token + "; _ga=GA1.2.3"}
}

// benchWriter is a ResponseWriter that keeps one header map and drops the
// body, so the benchmark measures the guard and not a recorder.
type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }

var benchIdentityHeaders = []string{"Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups"}

// benchReset undoes what Check changed, so every iteration starts from the
// request as the client sent it: it deletes the identity headers Check set
// and puts back the Cookie line Check rewrote without the session cookie
// (Check replaces the slice, so sharing cookie between iterations is safe).
// BenchmarkGuardHarness measures this overhead alone.
func benchReset(h http.Header, cookie []string) {
	for _, n := range benchIdentityHeaders {
		delete(h, n)
	}
	if cookie != nil {
		h["Cookie"] = cookie
	}
}

func (gb *guardBench) mustAuthenticate(b *testing.B, w http.ResponseWriter, r *http.Request) {
	b.Helper()
	id, out := gb.guard.Check(w, r)
	if out != Authenticated || id == nil || id.User.ID != gb.user.ID {
		b.Fatalf("outcome %v, identity %v", out, id)
	}
	if got := r.Header.Get("Remote-User"); got != gb.user.ID {
		b.Fatalf("Remote-User %q, want %q", got, gb.user.ID)
	}
	if got := r.Header.Get("Remote-Groups"); got != "finance,staff" {
		b.Fatalf("Remote-Groups %q", got)
	}
	if got := r.Header.Get("Cookie"); got != "theme=dark; _ga=GA1.2.3" {
		b.Fatalf("Cookie sent upstream: %q", got)
	}
}

// checkCacheServed fails the benchmark if the session store was read more
// than once (the read that filled the cache).
func (gb *guardBench) checkCacheServed(b *testing.B) {
	b.Helper()
	if n := gb.ss.gets.Load(); n > 1 {
		b.Fatalf("session store read %d times: the loop was not served by the cache", n)
	}
}

// BenchmarkGuardCheckCached: a signed-in API request, session in the cache.
// This is the whole per-request cost of `protect` outside Caddy's own
// handler chain: strip identity headers, find the cookie, validate the
// session (cache hit), policy, set the four identity headers.
func BenchmarkGuardCheckCached(b *testing.B) {
	gb := newGuardBench(b, 0)
	w := &benchWriter{h: http.Header{}}
	r := gb.request(true)
	cookie := gb.cookieLine()
	gb.mustAuthenticate(b, w, r) // fills the cache
	benchReset(r.Header, cookie)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, out := gb.guard.Check(w, r); out != Authenticated {
			b.Fatal(out)
		}
		benchReset(r.Header, cookie)
	}
	b.StopTimer()
	gb.checkCacheServed(b)
}

// BenchmarkGuardCheckCachedOnlySessionCookie: as above, with no other
// cookie on the request (an API client, or an app that sets none), so the
// guard deletes the Cookie header instead of rewriting it.
func BenchmarkGuardCheckCachedOnlySessionCookie(b *testing.B) {
	gb := newGuardBench(b, 0)
	w := &benchWriter{h: http.Header{}}
	r := gb.request(false)
	cookie := []string{gb.svc.CookieName() + "=" + gb.token}
	r.Header["Cookie"] = cookie
	if id, out := gb.guard.Check(w, r); out != Authenticated || id == nil {
		b.Fatalf("outcome %v", out)
	}
	if _, ok := r.Header["Cookie"]; ok {
		b.Fatalf("Cookie sent upstream: %q", r.Header["Cookie"])
	}
	benchReset(r.Header, cookie)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, out := gb.guard.Check(w, r); out != Authenticated {
			b.Fatal(out)
		}
		benchReset(r.Header, cookie)
	}
	b.StopTimer()
	gb.checkCacheServed(b)
}

// BenchmarkGuardCheckCachedSpoofed: as above, but the client also sends its
// own identity headers in the spellings the guard must strip (case and
// '_' variants) and the guard removes them before setting its own.
func BenchmarkGuardCheckCachedSpoofed(b *testing.B) {
	gb := newGuardBench(b, 0)
	w := &benchWriter{h: http.Header{}}
	r := gb.request(true)
	spoof := []string{"admin"}
	spoofed := map[string][]string{
		"Remote-User":   spoof,
		"Remote_User":   spoof,
		"Remote-Email":  spoof,
		"Remote-Groups": spoof,
		"REMOTE_NAME":   spoof,
	}
	setSpoof := func(h http.Header) {
		for k, v := range spoofed {
			h[k] = v
		}
	}
	cookie := gb.cookieLine()
	setSpoof(r.Header)
	gb.mustAuthenticate(b, w, r)
	for _, k := range []string{"Remote_User", "REMOTE_NAME"} {
		if _, ok := r.Header[k]; ok {
			b.Fatalf("%s not stripped", k)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		setSpoof(r.Header)
		r.Header["Cookie"] = cookie
		if _, out := gb.guard.Check(w, r); out != Authenticated {
			b.Fatal(out)
		}
	}
	b.StopTimer()
	gb.checkCacheServed(b)
}

// BenchmarkGuardCheckCachedParallel: the cached path from every P at once
// (the cache is behind a sync.RWMutex).
func BenchmarkGuardCheckCachedParallel(b *testing.B) {
	gb := newGuardBench(b, 0)
	gb.mustAuthenticate(b, &benchWriter{h: http.Header{}}, gb.request(true))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &benchWriter{h: http.Header{}}
		r := gb.request(true)
		cookie := gb.cookieLine()
		for pb.Next() {
			if _, out := gb.guard.Check(w, r); out != Authenticated {
				b.Error(out)
				return
			}
			benchReset(r.Header, cookie)
		}
	})
	b.StopTimer()
	gb.checkCacheServed(b)
}

// BenchmarkGuardCheckUncached: the same request with the cache off, over
// store/memory: a lower bound for a cache miss (a real miss adds a SQLite
// or Redis round trip for the session and one for the user).
func BenchmarkGuardCheckUncached(b *testing.B) {
	gb := newGuardBench(b, -1)
	w := &benchWriter{h: http.Header{}}
	r := gb.request(true)
	cookie := gb.cookieLine()
	gb.mustAuthenticate(b, w, r)
	benchReset(r.Header, cookie)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, out := gb.guard.Check(w, r); out != Authenticated {
			b.Fatal(out)
		}
		benchReset(r.Header, cookie)
	}
}

// BenchmarkGuardCheckAnonymousAPI: no cookie, Accept: application/json: the
// guard answers 401 JSON itself (the path a scanner or an expired client
// hits).
func BenchmarkGuardCheckAnonymousAPI(b *testing.B) {
	gb := newGuardBench(b, 0)
	w := &benchWriter{h: http.Header{}}
	r := gb.request(false)
	if _, out := gb.guard.Check(w, r); out != Handled || w.code != http.StatusUnauthorized {
		b.Fatalf("outcome %v, status %d", out, w.code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, out := gb.guard.Check(w, r); out != Handled {
			b.Fatal(out)
		}
	}
}

// BenchmarkGuardHarness: the per-iteration reset alone, to subtract from
// the cached benchmarks.
func BenchmarkGuardHarness(b *testing.B) {
	gb := newGuardBench(b, 0)
	r := gb.request(true)
	cookie := gb.cookieLine()
	v := []string{"x"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, n := range benchIdentityHeaders {
			r.Header[n] = v
		}
		benchReset(r.Header, cookie)
	}
}

package flows

// Benchmarks of the bearer path and of the signed assertion (issue 13
// item 7), beside guard_bench_test.go's cookie path:
//
//	go test -run '^$' -bench 'Bearer|Assertion' -benchmem ./flows/
//
// As there, the session cache is on and the benchmarks fail if the store is
// read more than the once that fills it: a cached bearer request makes no
// network call (the token is verified in memory, its sid found in the
// cache).

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestGuardDecideNoAllocBearerCached: like the cookie's
// TestGuardDecideNoAllocCached, a bearer request whose token was verified
// before and whose session is cached is decided without an allocation and
// without a store read.
func TestGuardDecideNoAllocBearerCached(t *testing.T) {
	gb := newGuardBench(t, 0)
	tok := gb.bearerToken(t)
	r := httptest.NewRequest("GET", "http://app.example.test/api/items?page=2", nil)
	r.Header["Authorization"] = []string{"Bearer " + tok}
	tgt := TargetOf(r)
	ctx := r.Context()
	if d := gb.guard.Decide(ctx, tgt, nil); d.Verdict != VerdictAllow || d.Source != SourceBearer {
		t.Fatalf("verdict %v source %v", d.Verdict, d.Source)
	}
	if n := testing.AllocsPerRun(100, func() { _ = gb.guard.Decide(ctx, tgt, nil) }); n != 0 {
		t.Fatalf("Decide allocates %.0f times per cached bearer request", n)
	}
	if n := gb.ss.gets.Load(); n > 1 {
		t.Fatalf("session store read %d times", n)
	}
}

// bearerToken signs an access token for the bench user's session.
func (gb *guardBench) bearerToken(b testing.TB) string {
	b.Helper()
	id, err := gb.svc.deps.Sessions.Validate(b.Context(), gb.token)
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := gb.svc.tokens.issueAccess(id, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	gb.ss.gets.Store(0) // the Validate above filled the cache
	return tok
}

// BenchmarkGuardCheckBearerCached: a signed-in API request with
// Authorization: Bearer whose token was verified before and whose session
// is in the cache: the verified-token lookup, exp, the sid in the session
// cache, policy, identity headers.
func BenchmarkGuardCheckBearerCached(b *testing.B) { benchBearer(b, false) }

// BenchmarkGuardCheckBearerFirstUse: the same with a token not seen
// before: the EdDSA verification and the claims are judged every time.
func BenchmarkGuardCheckBearerFirstUse(b *testing.B) { benchBearer(b, true) }

func benchBearer(b *testing.B, firstUse bool) {
	gb := newGuardBench(b, 0)
	tok := gb.bearerToken(b)
	w := &benchWriter{h: http.Header{}}
	r := gb.request(false)
	auth := []string{"Bearer " + tok}
	r.Header["Authorization"] = auth
	if id, out := gb.guard.Check(w, r); out != Authenticated || id == nil || r.Header.Get("Remote-User") != gb.user.ID {
		b.Fatalf("outcome %v", out)
	}
	if r.Header.Get("Authorization") != "" {
		b.Fatal("the access token went upstream")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if firstUse {
			gb.svc.tokens.verified.reset()
		}
		r.Header["Authorization"] = auth
		if _, out := gb.guard.Check(w, r); out != Authenticated {
			b.Fatal(out)
		}
		benchReset(r.Header, nil)
	}
	b.StopTimer()
	gb.checkCacheServed(b)
}

// benchAssertion is the cookie benchmark on a guard that adds a signed
// assertion; signEach makes every request sign afresh (a cache miss).
func benchAssertion(b *testing.B, signEach bool) {
	gb := newGuardBench(b, 0)
	g, err := gb.svc.NewGuard(GuardConfig{Base: "/auth", Assertion: &AssertionConfig{}})
	if err != nil {
		b.Fatal(err)
	}
	gb.guard = g
	w := &benchWriter{h: http.Header{}}
	r := gb.request(true)
	cookie := gb.cookieLine()
	gb.mustAuthenticate(b, w, r)
	if r.Header.Get(DefaultAssertionHeader) == "" {
		b.Fatal("no assertion")
	}
	benchReset(r.Header, cookie)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if signEach {
			g.assertions.reset()
		}
		if _, out := g.Check(w, r); out != Authenticated {
			b.Fatal(out)
		}
		benchReset(r.Header, cookie)
		delete(r.Header, DefaultAssertionHeader)
	}
	b.StopTimer()
	gb.checkCacheServed(b)
}

// BenchmarkGuardCheckAssertionCached: a request whose assertion for this
// session and site was signed within the last seconds.
func BenchmarkGuardCheckAssertionCached(b *testing.B) { benchAssertion(b, false) }

// BenchmarkGuardCheckAssertionSigned: the same, signing every time.
func BenchmarkGuardCheckAssertionSigned(b *testing.B) { benchAssertion(b, true) }

package flows

import (
	"net/http"
	"testing"
)

// BenchmarkGuardCheckPublicKeepAlive: an anonymous request for a public
// asset from an HTTP/1.1 browser (`Connection: keep-alive`): the public
// path judgement and the Connection scan, with nothing to rewrite.
func BenchmarkGuardCheckPublicKeepAlive(b *testing.B) {
	gb := newGuardBench(b, 0)
	g, err := gb.svc.NewGuard(GuardConfig{Base: "/auth", Public: []string{"/static/*", "/health"}})
	if err != nil {
		b.Fatal(err)
	}
	w := &benchWriter{h: http.Header{}}
	r := gb.request(false)
	r.URL.Path = "/static/app/main.min.js"
	r.Header.Set("Connection", "keep-alive")
	b.ReportAllocs()
	for b.Loop() {
		if _, out := g.Check(w, r); out != Public {
			b.Fatal(out)
		}
	}
}

// BenchmarkGuardUnmatched: a request outside a `protect <matcher>` with
// only the app's cookies (what most traffic of such a site is).
func BenchmarkGuardUnmatched(b *testing.B) {
	gb := newGuardBench(b, 0)
	r := gb.request(false)
	r.Header["Cookie"] = []string{"theme=dark; _ga=GA1.2.3"}
	r.Header.Set("Connection", "keep-alive")
	b.ReportAllocs()
	for b.Loop() {
		if gb.guard.Unmatched(r.Header, nil, nil) {
			b.Fatal("removed a cookie")
		}
	}
}

package flows

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store/memory"
)

// servletAndIISBypasses are public-looking paths that a Servlet container
// (Tomcat, Jetty, Spring strip `;` parameters from each segment) or IIS
// (`\` is `/`, `%uXXXX` escapes) resolves to a path outside /public (issue
// 9, item 4), in raw, encoded, double-encoded and mixed-case forms.
var servletAndIISBypasses = []string{
	// `;` parameters on dot segments.
	"/public/..;/admin",
	"/public/..;jsessionid=x/admin",
	"/public/.;/../admin",
	"/public/.;/admin",
	"/public/.;jsessionid=x/x/..;/..;/admin",
	"/public/..%3b/admin",
	"/public/..%3B/admin",
	"/public/%2e%2e;/admin",
	"/public/%2E%2e%3B/admin",
	"/public/.%2e;x=1/admin",
	// Backslash, raw and encoded.
	"/public/..\\admin",
	"/public/..\\x",
	"/public\\..\\admin",
	"/public/..%5Cadmin",
	"/public/..%5cadmin",
	"/public/%2e%2e%5cadmin",
	"/public/x%5c..%5c..%5cadmin",
	// Double (and triple) encoding, for an upstream that decodes again.
	"/public/%252e%252e/admin",
	"/public/%252E%252E%252Fadmin",
	"/public/..%253b/admin",
	"/public/..%255cadmin",
	"/public/%25252e%25252e/admin",
	// IIS %u escapes (a raw %u is not a valid URL escape, so Go's server
	// refuses it; encoded once it arrives) and full-width forms.
	"/public/%25u002e%25u002e/admin",
	"/public/..%25u005cadmin",
	"/public/..%25U003B/admin",
	"/public/%25uFF0E%25uff0e/admin",
	"/public/%EF%BC%8E%EF%BC%8E/admin",
	"/public/..%EF%BC%BCadmin",
	"/public/%E2%80%A5/admin",
	"/public/%EF%B9%92%EF%B9%92;/admin",
	// Overlong UTF-8 (Tomcat CVE-2008-2938, IIS CVE-2000-0884).
	"/public/%c0%ae%c0%ae/admin",
	"/public/..%c0%afadmin",
	"/public/..%c1%9cadmin",
	"/public/%e0%80%ae%e0%80%ae/admin",
	// Windows trims trailing dots and spaces; C code stops at NUL.
	"/public/.../admin",
	"/public/..%20/admin",
	"/public/..%00/admin",
	"/public/..%2500/admin",
	// Encoded slash around a dot segment.
	"/public/..%2fadmin",
	"/public%2f..%2fadmin",
}

// TestPublicPathNeverResolvesElsewhere: none of servletAndIISBypasses is
// public; an anonymous API client gets 401 and the upstream is not called.
// The control: ordinary public paths (also with `;` on a normal segment,
// dots inside a name, a percent-encoded name) stay public.
func TestPublicPathNeverResolvesElsewhere(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{Public: []string{"/public/*", "/health"}})
	for _, p := range servletAndIISBypasses {
		r := httptest.NewRequest("GET", p, nil)
		r.Header.Set("Accept", "application/json")
		res := e.do(r)
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous GET %s (path %q): %d, want 401 (not public)", p, r.URL.Path, res.StatusCode)
			continue
		}
		if got := decodeErr(t, res); got.Code != CodeUnauthenticated {
			t.Errorf("GET %s: %+v", p, got)
		}
	}
	for _, p := range []string{
		"/health", "/public/app.css", "/public/a/b.min.js", "/public/x;v=1", "/public/..x", "/public/x..",
		"/public/.well-known", "/public/%7Euser", "/public/a%20b", "/public/%2e%2ex", "/public/x/",
	} {
		r := httptest.NewRequest("GET", p, nil)
		r.Header.Set("Accept", "application/json")
		if res := e.do(r); res.StatusCode != http.StatusOK {
			t.Errorf("anonymous GET %s: %d, want 200 (public)", p, res.StatusCode)
		}
	}
}

// FuzzPublicPath: whatever path is judged public has no segment that a
// Servlet container, IIS or a double-decoding app resolves as a dot
// segment. The reference interpretation below is written independently
// of the guard's scanner: it decodes with net/url (up to three times, and
// %uXXXX), folds full-width forms, turns `\` into `/`, cuts `;` parameters
// and trailing dots and spaces, and stops at NUL.
func FuzzPublicPath(f *testing.F) {
	for _, p := range servletAndIISBypasses {
		f.Add(p)
	}
	for _, p := range []string{"/public/x", "/public/x;v=1", "/health", "/public/%2e%2ex", "/public/a%20b"} {
		f.Add(p)
	}
	svc := newServiceForFuzz(f)
	g, err := svc.NewGuard(GuardConfig{Base: "/auth", Public: []string{"/public/*", "/health"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Path == "" || u.Path[0] != '/' || u.RawQuery != "" || u.Fragment != "" {
			return
		}
		if !g.isPublic(u) {
			return
		}
		for _, p := range []string{u.Path, u.EscapedPath()} {
			if seg, ok := resolvesDotSegment(p); ok {
				t.Fatalf("%q judged public, but segment %q of %q is a dot segment for some upstream", target, seg, p)
			}
		}
	})
}

// resolvesDotSegment is the reference interpretation of FuzzPublicPath.
func resolvesDotSegment(p string) (string, bool) {
	for range 4 {
		for _, s := range strings.FieldsFunc(foldPath(p), func(r rune) bool { return r == '/' }) {
			s, _, _ = strings.Cut(s, ";")
			s, _, _ = strings.Cut(s, "\x00")
			if t := strings.TrimRight(s, ". "); t == "" && strings.Contains(s, ".") {
				return s, true
			}
		}
		next := lenientUnescape(p)
		if next == p {
			break
		}
		p = next
	}
	return "", false
}

// foldPath maps what IIS and Unicode-normalising apps read as `.`, `/`,
// `\` and `;`, and `\` to `/`.
func foldPath(p string) string {
	return strings.NewReplacer("\\", "/", "．", ".", "／", "/", "＼", "/", "；", ";", "∕", "/", "∖", "/",
		"․", ".", "‥", "..", "﹒", ".", "﹨", "/", "﹔", ";",
		"\xc0\xae", ".", "\xc0\xaf", "/", "\xc1\x9c", "/", "\xe0\x80\xae", ".", "\xe0\x80\xaf", "/").Replace(p)
}

// lenientUnescape decodes every valid %hh and %uhhhh escape and keeps
// invalid ones as they are (as a forgiving upstream does).
func lenientUnescape(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' {
			if i+5 < len(p) && (p[i+1] == 'u' || p[i+1] == 'U') {
				if v, err := url.PathUnescape("%" + p[i+2:i+4] + "%" + p[i+4:i+6]); err == nil && len(v) == 2 {
					r := rune(v[0])<<8 | rune(v[1])
					b.WriteRune(r)
					i += 5
					continue
				}
			}
			if i+2 < len(p) {
				if v, err := url.PathUnescape(p[i : i+3]); err == nil {
					b.WriteString(v)
					i += 2
					continue
				}
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// newServiceForFuzz is a Service over store/memory, for fuzz targets.
func newServiceForFuzz(f *testing.F) *Service {
	f.Helper()
	mem := memory.New()
	mgr, err := session.New(mem, mem, session.Config{CacheTTL: -1})
	if err != nil {
		f.Fatal(err)
	}
	svc, err := New(Config{Limits: &Limits{}}, Deps{Users: mem, Tokens: mem, Sessions: mgr, Hasher: password.New(fastHash, 1)})
	if err != nil {
		f.Fatal(err)
	}
	return svc
}

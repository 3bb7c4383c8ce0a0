package flows

import (
	"net/http/httptest"
	"testing"
)

// TestPlainRequestPath: the judgement the glue uses outside a matcher
// (issue 9, item 4, matcher side): every Servlet/IIS dot-segment form is
// not plain; ordinary paths are.
func TestPlainRequestPath(t *testing.T) {
	for _, p := range servletAndIISBypasses {
		if r := httptest.NewRequest("GET", p, nil); PlainRequestPath(r.URL) {
			t.Errorf("%s judged plain", p)
		}
	}
	for _, p := range []string{"/", "/app", "/x/..;/admin", "/x/..%5cadmin", "/x/.;/../admin"} {
		r := httptest.NewRequest("GET", p, nil)
		if want := p == "/" || p == "/app"; PlainRequestPath(r.URL) != want {
			t.Errorf("%s: plain = %v, want %v", p, !want, want)
		}
	}
}

package caddyauth

import (
	"strings"
	"testing"
)

// TestHandlersValidateJSON: the handlers refuse in JSON what the parser
// refuses in a Caddyfile, every problem in one error.
func TestHandlersValidateJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"portal relative base", (&Portal{Base: "auth"}).Validate(), []string{`auth_portal: base "auth" must be a path`}},
		{"portal root base", (&Portal{Base: "/"}).Validate(), []string{`auth_portal: base "/" must be a path`}},
		{"protect base and portal", (&Protect{Base: "//", Portal: "ftp://x"}).Validate(), []string{`protect: base "//" must be a path`, "portal must be an absolute http(s) URL"}},
	} {
		if tc.err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(tc.err.Error(), w) {
				t.Errorf("%s: %v lacks %q", tc.name, tc.err, w)
			}
		}
	}
	for _, ok := range []error{(&Portal{}).Validate(), (&Portal{Base: "/sso/"}).Validate(), (&Protect{Base: "/auth", Portal: "https://auth.example.com"}).Validate()} {
		if ok != nil {
			t.Errorf("refused: %v", ok)
		}
	}
}

package caddyauth

import (
	"strings"
	"testing"
)

// TestVerifyLineErrors: a verify line is refused with its reason, at its
// line, for a bad site, a portal's own option, or an unknown protect one.
func TestVerifyLineErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"verify", "verify takes one"},
		{"verify {\n\t\t\tallow group a\n\t\t}", "verify takes one"},
		{"verify app.example.com/a/../b", "plain path"},
		{"verify user@app.example.com", "want <host>"},
		{"verify app.example.com {\n\t\t\tbase /x\n\t\t}", "`base` is the portal's"},
		{"verify app.example.com {\n\t\t\tbogus\n\t\t}", `unknown option "bogus"`},
		{"verify app.example.com {\n\t\t\tallow group\n\t\t}", "needs a kind"},
		{"protect_me app.example.com", `unknown option "protect_me" (want verify)`},
	} {
		src := "{\n\tcaddyauth {\n\t\tsecret {env.CADDYAUTH_SECRET}\n\t}\n}\nauth.example.com {\n\tauth_portal {\n\t\t" + tc.body + "\n\t}\n}\n"
		_, err := adapt(t, []byte(src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.body, err, tc.want)
		}
	}
}

package flows

import (
	"context"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/internal/audit"
)

// TestAdminUnknownMethodRefused: a switch for a method the configuration
// does not offer answers 404 METHOD_UNKNOWN, stores nothing and audits
// nothing; the list shows only methods that exist (issue 9: PUT
// oauth:githb answered 200 while github stayed on; passwordless and
// registration were listed with no flow behind them).
func TestAdminUnknownMethodRefused(t *testing.T) {
	e := newAdminEnv(t, nil)
	admin := e.session(e.root, "totp")
	for _, m := range []string{"oauth:githb", "oauth:GITHUB", "passwordless", "registration", "bogus", "oauth:github%20", "Password"} {
		for _, verb := range []string{"PUT", "POST"} {
			got := e.expect(verb, "/auth/admin/methods/"+m, admin, `{"enabled":false}`, 404, CodeMethodUnknown)
			if msg, _ := got["message"].(string); !strings.Contains(msg, "oauth:github") {
				t.Errorf("%s %s: message %q does not say what exists", verb, m, msg)
			}
		}
	}
	if ev := e.audit.find(audit.MethodDisabled, ""); ev != nil {
		t.Fatalf("a refused switch was audited: %+v", ev)
	}
	if ok, _ := e.sw.Enabled(context.Background(), "oauth:github"); !ok {
		t.Fatal("github switched off")
	}
	list := mustJSON(e.expect("GET", "/auth/admin/methods", admin, "", 200, ""))
	if want := `{"methods":[{"enabled":true,"method":"oauth:github"},{"enabled":true,"method":"oauth:google"},{"enabled":true,"method":"password"}]}`; list != want {
		t.Fatalf("methods = %s, want %s", list, want)
	}
}

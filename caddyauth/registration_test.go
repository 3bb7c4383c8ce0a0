package caddyauth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegistrationValidate(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(bad, []byte("ok.example\nnodot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"registration":{"disposable":"maybe"}}`, `disposable "maybe" (want block, flag or off)`},
		{`{"registration":{"domains":["a@b.example"]}}`, `"a@b.example" is not a domain name`},
		{`{"registration":{"disposable_file":"/nonexistent/x.txt"}}`, "disposable file"},
		{`{"registration":{"disposable_file":"` + bad + `"}}`, "line 2"},
		{`{"registration":{"on":true}}`, "registration on needs an `email` sender"},
	} {
		err := jsonApp(t, tc.json).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.json, err, tc.want)
		}
	}
	if err := jsonApp(t, `{"registration":{"domains":["corp.example"],"disposable":"flag"}}`).Validate(); err != nil {
		t.Errorf("registration off with rules refused: %v", err)
	}
	if err := jsonApp(t, `{"email":{"sender":"log"},"registration":{"on":true,"approval":true}}`).Validate(); err != nil {
		t.Errorf("registration on with an email sender refused: %v", err)
	}
}

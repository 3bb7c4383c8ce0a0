package flows

import (
	"context"
	"strings"
	"testing"
)

// TestSetupNameRules: the setup page judges the name with the account
// service's rule (the CLI's): control characters and names over 200 bytes
// are refused, not truncated, and the token stays live for the next try.
func TestSetupNameRules(t *testing.T) {
	e := newSetupEnv(t)
	const pw = "plinth arugula mezzanine quay"
	for _, name := range []string{"Root\nAdmin", "Root\x7f", strings.Repeat("é", 101)} {
		res, body := e.setupJSON("root@example.test", name, pw)
		if res.StatusCode != 400 || !strings.Contains(body, "control characters") {
			t.Errorf("name %q: %d %s", name, res.StatusCode, body)
		}
	}
	if n, _ := e.mem.CountUsers(context.Background()); n != 0 {
		t.Fatalf("%d users after refused names", n)
	}
	if res, body := e.setupJSON("root@example.test", strings.Repeat("é", 100), pw); res.StatusCode != 200 {
		t.Fatalf("a 200-byte name: %d %s", res.StatusCode, body)
	}
}

package policy

import (
	"testing"

	"github.com/caddyauth/gateway/store"
)

// TestEmailRulesFoldASCIIOnly: `allow email` and `*@domain` rules compare
// with ASCII case folding only. strings.EqualFold takes the Kelvin sign
// for "k" and the long s for "s", so a look-alike account passed a rule
// written for someone else (issue 9, item 12).
func TestEmailRulesFoldASCIIOnly(t *testing.T) {
	for _, tc := range []struct {
		rule, email string
		want        bool
	}{
		{"kate@example.com", "kate@example.com", true},
		{"Kate@Example.COM", "kate@example.com", true},
		{"kate@example.com", "\u212Aate@example.com", false},
		{"\u212Aate@example.com", "kate@example.com", false},
		{"sam@example.com", "\u017Fam@example.com", false},
		{"*@korp.example", "x@korp.example", true},
		{"*@KORP.example", "x@korp.example", true},
		{"*@korp.example", "x@\u212Aorp.example", false},
		{"*@\u212Aorp.example", "x@korp.example", false},
	} {
		p := Policy{Allow: []Rule{{KindEmail, []string{tc.rule}}}}
		if got := p.Allowed(&store.User{ID: "u", Email: tc.email}, "password"); got != tc.want {
			t.Errorf("allow email %q, user %q: %v, want %v", tc.rule, tc.email, got, tc.want)
		}
	}
}

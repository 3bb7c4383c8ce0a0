package oauth

import "testing"

// TestSignupDomainFoldsASCIIOnly: allowed_domains compares with ASCII case
// folding only, so a Kelvin sign in the domain is not "k".
func TestSignupDomainFoldsASCIIOnly(t *testing.T) {
	p, err := New(Config{Name: "gh", Kind: KindGitHub, ClientID: "id", ClientSecret: "s", AllowedDomains: []string{"@Korp.Example"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		email string
		want  bool
	}{
		{"x@korp.example", true},
		{"x@KORP.EXAMPLE", true},
		{"x@\u212Aorp.example", false},
		{"x@\uFF4Borp.example", false},
		{"x@sub.korp.example", false},
		{"x@korp.example.evil", false},
		{"korp.example", false},
	} {
		if got := p.Signup(tc.email); got != tc.want {
			t.Errorf("Signup(%q) = %v, want %v", tc.email, got, tc.want)
		}
	}
}

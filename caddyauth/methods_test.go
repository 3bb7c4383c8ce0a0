package caddyauth

import (
	"slices"
	"testing"
)

// TestOfferedMethods: the switch's methods come from the configuration:
// password always, each provider by its name, registration only when a
// provider may create accounts.
func TestOfferedMethods(t *testing.T) {
	for _, tc := range []struct {
		name  string
		oauth []*OAuthProvider
		want  []string
	}{
		{"no provider", nil, []string{"password"}},
		{
			"providers without sign-up",
			[]*OAuthProvider{{Name: "github", Kind: "github"}, {Name: "corp", Kind: "oidc"}},
			[]string{"oauth:corp", "oauth:github", "password"},
		},
		{
			"signup on",
			[]*OAuthProvider{{Name: "github", Kind: "github", Signup: true}},
			[]string{"oauth:github", "password", "registration"},
		},
		{
			"allowed domains",
			[]*OAuthProvider{{Name: "github", Kind: "github"}, {Name: "corp", Kind: "oidc", AllowedDomains: []string{"example.com"}}},
			[]string{"oauth:corp", "oauth:github", "password", "registration"},
		},
	} {
		if got := (&App{OAuth: tc.oauth}).offeredMethods(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: offered %v, want %v", tc.name, got, tc.want)
		}
	}
}

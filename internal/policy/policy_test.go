package policy

import (
	"testing"

	"github.com/caddyauth/gateway/store"
)

func TestAllowed(t *testing.T) {
	alice := &store.User{ID: "u1", Email: "alice@corp.example", Groups: []string{"finance", "staff"}}
	bob := &store.User{ID: "u2", Email: "bob@gmail.example", Groups: []string{"staff"}}
	for _, tc := range []struct {
		name       string
		p          Policy
		alice, bob bool
	}{
		{"no rules", Policy{}, true, true},
		{"group", Policy{Allow: []Rule{{KindGroup, []string{"finance"}}}}, true, false},
		{"role alias", Policy{Allow: []Rule{{KindRole, []string{"finance"}}}}, true, false},
		{"email domain", Policy{Allow: []Rule{{KindEmail, []string{"*@CORP.example"}}}}, true, false},
		{"email exact case-insensitive", Policy{Allow: []Rule{{KindEmail, []string{"Bob@Gmail.example"}}}}, false, true},
		{"user id", Policy{Allow: []Rule{{KindUser, []string{"u2"}}}}, false, true},
		{"deny wins", Policy{Allow: []Rule{{KindGroup, []string{"staff"}}}, Deny: []Rule{{KindUser, []string{"u1"}}}}, false, true},
		{"deny only", Policy{Deny: []Rule{{KindEmail, []string{"*@gmail.example"}}}}, true, false},
		{"any of several allows", Policy{Allow: []Rule{{KindUser, []string{"zz"}}, {KindGroup, []string{"staff"}}}}, true, true},
		{"domain suffix is not a match", Policy{Allow: []Rule{{KindEmail, []string{"*@example"}}}}, false, false},
	} {
		if got := tc.p.Allowed(alice, "password"); got != tc.alice {
			t.Errorf("%s: alice = %v", tc.name, got)
		}
		if got := tc.p.Allowed(bob, "password"); got != tc.bob {
			t.Errorf("%s: bob = %v", tc.name, got)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []Policy{
		{Allow: []Rule{{"teams", []string{"x"}}}},
		{Allow: []Rule{{KindGroup, nil}}},
		{Deny: []Rule{{KindEmail, []string{"a*@b"}}}},
		{Deny: []Rule{{KindUser, []string{""}}}},
	}
	for i, p := range bad {
		if err := p.Validate(); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
	ok := Policy{Allow: []Rule{{KindEmail, []string{"*@a.example", "b@c.example"}}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestMethodRules(t *testing.T) {
	u := &store.User{ID: "u", Email: "u@example.com"}
	noKeys := Policy{Deny: []Rule{{KindMethod, []string{store.AuthAPIKey}}}}
	onlyKeys := Policy{Allow: []Rule{{KindMethod, []string{store.AuthAPIKey}}}}
	anyOAuth := Policy{Allow: []Rule{{KindMethod, []string{"oauth"}}}}
	for _, tc := range []struct {
		name   string
		p      Policy
		method string
		want   bool
	}{
		{"deny api_key refuses a key", noKeys, store.AuthAPIKey, false},
		{"deny api_key admits a password session", noKeys, store.AuthPassword, true},
		{"allow api_key only: a key passes", onlyKeys, store.AuthAPIKey, true},
		{"allow api_key only: a session does not", onlyKeys, store.AuthPassword, false},
		{"oauth matches any provider", anyOAuth, store.AuthOAuth("google"), true},
		{"oauth is not a prefix of other methods", anyOAuth, "oauthx", false},
		{"exact provider", Policy{Allow: []Rule{{KindMethod, []string{"oauth:corp"}}}}, store.AuthOAuth("google"), false},
		{"case matters", Policy{Deny: []Rule{{KindMethod, []string{"API_KEY"}}}}, store.AuthAPIKey, true},
	} {
		if err := tc.p.Validate(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := tc.p.Allowed(u, tc.method); got != tc.want {
			t.Errorf("%s: Allowed(%q) = %v, want %v", tc.name, tc.method, got, tc.want)
		}
	}
}

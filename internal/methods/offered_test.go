package methods

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store/memory"
)

// TestOffered: the switchable methods are what the configuration has:
// password always, each provider, registration only when a provider may
// create accounts; never a flow with options of its own (the caller adds
// password_reset and passwordless when they are on).
func TestOffered(t *testing.T) {
	for _, tc := range []struct {
		signup    bool
		providers []string
		want      []string
	}{
		{false, nil, []string{"password"}},
		{false, []string{"github", "corp"}, []string{"oauth:corp", "oauth:github", "password"}},
		{true, []string{"github"}, []string{"oauth:github", "password", "registration"}},
		{true, nil, []string{"password"}}, // no provider, no sign-up flow
	} {
		got := Offered(tc.signup, tc.providers...)
		if len(got) != len(tc.want) {
			t.Errorf("Offered(%v, %v) = %v, want %v", tc.signup, tc.providers, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("Offered(%v, %v) = %v, want %v", tc.signup, tc.providers, got, tc.want)
				break
			}
		}
	}
}

// TestSwitchRefusesUnknownMethods: a switch for a method the
// configuration does not offer (a typo of a provider, a flow that does
// not exist) is refused with ErrUnknown and stores nothing (issue 9: PUT
// oauth:githb answered 200 while github stayed on).
func TestSwitchRefusesUnknownMethods(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	s := New(st, -1, Offered(false, "github"))
	for _, m := range []string{"oauth:githb", "oauth:GitHub", "oauth:github ", "passwordless", "registration", "Password", "oauth:", "", "totp"} {
		if err := s.Set(ctx, m, false); !errors.Is(err, ErrUnknown) {
			t.Errorf("Set(%q) = %v, want ErrUnknown", m, err)
		}
		if s.Offers(m) {
			t.Errorf("Offers(%q) = true", m)
		}
	}
	if all, _ := st.Settings(ctx, prefix); len(all) != 0 {
		t.Fatalf("refused switches were stored: %v", all)
	}
	for _, m := range []string{"oauth:github", "password"} {
		if err := s.Set(ctx, m, false); err != nil || !s.Offers(m) {
			t.Errorf("Set(%q) = %v, Offers = %v", m, err, s.Offers(m))
		}
	}
	// A switch stored for a method the configuration no longer has (a
	// provider removed, an old build) is not listed as if it existed.
	if err := Set(ctx, st, "oauth:old", false, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []State{{"oauth:github", false}, {"password", false}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("List = %v, want %v", got, want)
	}
}

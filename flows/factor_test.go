package flows

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
)

func factorNames(fs factors) []string {
	var names []string
	for _, f := range fs {
		names = append(names, f.Name())
	}
	return names
}

// Every factor is a method the config accepts, in the default's order, so
// a new factor cannot be built without being configurable.
func TestEveryFactorIsAConfigMethod(t *testing.T) {
	e := newMFAEnv(t, MFAConfig{}, GuardConfig{})
	if got := factorNames(allFactors(e.svc)); !slices.Equal(got, AllMFAMethods) {
		t.Fatalf("factors %v, config methods %v", got, AllMFAMethods)
	}
}

// The registry keeps only the configured methods, in display order
// whatever the config's order.
func TestFactorRegistryFollowsConfig(t *testing.T) {
	for _, tc := range []struct {
		methods []string
		want    []string
	}{
		{nil, AllMFAMethods},
		{[]string{MethodRecovery, MethodTOTP}, []string{MethodTOTP, MethodRecovery}},
		{[]string{MethodSMS, MethodEmail}, []string{MethodEmail, MethodSMS}},
		{[]string{MethodTOTP}, []string{MethodTOTP}},
	} {
		e := newMFAEnv(t, MFAConfig{Methods: tc.methods}, GuardConfig{})
		if got := factorNames(e.svc.factors); !slices.Equal(got, tc.want) {
			t.Errorf("methods %v: registry %v, want %v", tc.methods, got, tc.want)
		}
		for _, m := range AllMFAMethods {
			if (e.svc.factors.get(m) != nil) != slices.Contains(tc.want, m) {
				t.Errorf("methods %v: get(%q) disagrees with the registry", tc.methods, m)
			}
		}
	}
}

// Usable, per factor, for the account states the challenge meets.
func TestFactorUsable(t *testing.T) {
	ctx := context.Background()
	withAll := &store.User{Email: "a@example.test", Phone: "+15550100", PhoneVerifiedAt: epochVerified}
	bare := &store.User{}
	for _, tc := range []struct {
		name     string
		required bool
		user     *store.User
		enrolled bool
		codes    bool
		want     []string
	}{
		{"nothing enrolled, optional", false, withAll, false, false, nil},
		{"nothing enrolled, required", true, withAll, false, false, []string{MethodEmail, MethodSMS}},
		{"enrolled, no codes left", false, withAll, true, false, []string{MethodTOTP, MethodEmail, MethodSMS}},
		{"enrolled with codes", false, withAll, true, true, AllMFAMethods},
		{"enrolled, no destinations", false, bare, true, true, []string{MethodTOTP, MethodRecovery}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newMFAEnv(t, MFAConfig{Required: tc.required}, GuardConfig{})
			u := *tc.user
			u.ID, u.Status = keys.NewID(), store.StatusActive
			if err := e.mem.CreateUser(ctx, &u); err != nil {
				t.Fatal(err)
			}
			if tc.codes {
				if err := e.mem.ReplaceRecoveryCodes(ctx, u.ID, []string{"h1"}); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, f := range e.svc.factors {
				ok, err := f.Usable(ctx, &u, &mfaState{enrolled: tc.enrolled})
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					got = append(got, f.Name())
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("usable %v, want %v", got, tc.want)
			}
		})
	}
}

// Only factors that send something begin; the others refuse, as the send
// endpoint does for them.
func TestFactorBegins(t *testing.T) {
	e := newMFAEnv(t, MFAConfig{}, GuardConfig{})
	want := map[string]bool{MethodTOTP: false, MethodEmail: true, MethodSMS: true, MethodRecovery: false}
	for _, f := range e.svc.factors {
		if f.Begins() != want[f.Name()] {
			t.Errorf("%s: Begins() = %v", f.Name(), f.Begins())
		}
		if f.Begins() {
			continue
		}
		if _, err := f.Begin(context.Background(), &factorCall{}); !errors.Is(err, errMFAMethodNA) {
			t.Errorf("%s: Begin = %v, want %v", f.Name(), err, errMFAMethodNA)
		}
	}
}

// epochVerified marks a phone as verified in tests.
var epochVerified = time.Unix(1, 0)

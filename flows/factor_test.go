package flows

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/notify"
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
	withAll := &store.User{Email: "a@example.test", Phone: "+15550100"}
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
		if _, err := f.Begin(context.Background(), &factorCall{}); err != errMFAMethodNA {
			t.Errorf("%s: Begin = %v, want %v", f.Name(), err, errMFAMethodNA)
		}
	}
}

// A code factor's prompt names the masked destination; its code passes
// once, only for the stage and method it was sent for.
func TestCodeFactorBeginVerify(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		method, to, masked string
	}{
		{MethodEmail, "alice@example.test", "a***@example.test"},
		{MethodSMS, "+15550123", "***23"},
	} {
		t.Run(tc.method, func(t *testing.T) {
			e := newMFAEnv(t, MFAConfig{}, GuardConfig{})
			u := store.User{ID: keys.NewID(), Email: "alice@example.test", Phone: "+15550123"}
			c := &factorCall{u: &u, stage: keys.NewID(), st: &mfaState{}, now: e.clk.Now()}
			f := e.svc.factors.get(tc.method)
			pr, err := f.Begin(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			if pr.Sent != tc.masked || pr.ExpiresIn != mfaCodeTTL {
				t.Fatalf("prompt %+v", pr)
			}
			m := e.queue.last(t)
			if m.Channel != tc.method || m.To != tc.to || m.Kind != notify.KindMFACode {
				t.Fatalf("message %+v", m)
			}
			code := m.Data[notify.DataCode]
			other := e.svc.factors.get(MethodEmail)
			if tc.method == MethodEmail {
				other = e.svc.factors.get(MethodSMS)
			}
			if err := other.Verify(ctx, c, code); err != errMFACodeInvalid {
				t.Fatalf("code passed for the other method: %v", err)
			}
			elsewhere := &factorCall{u: &u, stage: keys.NewID(), st: c.st, now: c.now}
			if err := f.Verify(ctx, elsewhere, code); err != errMFACodeInvalid {
				t.Fatalf("code passed for another stage: %v", err)
			}
			if err := f.Verify(ctx, c, code); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if err := f.Verify(ctx, c, code); err == nil {
				t.Fatal("a spent code passed again")
			}
		})
	}
}

// The remembered device answers with its token: valid for its owner only,
// and not at all when the operator turned the choice off.
func TestTrustedDeviceFactor(t *testing.T) {
	ctx := context.Background()
	e := newMFAEnv(t, MFAConfig{}, GuardConfig{})
	now := e.clk.Now()
	tok := keys.NewToken()
	d := &store.TrustedDevice{ID: keys.HashToken(tok), UserID: e.alice.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.mem.CreateTrustedDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	f := e.svc.trust
	if f.Name() != MethodTrustedDevice || f.Begins() || e.svc.factors.get(f.Name()) != nil {
		t.Fatalf("%s: must not be offered on the challenge", f.Name())
	}
	for _, tc := range []struct {
		name  string
		user  string
		token string
		at    time.Time
		ok    bool
	}{
		{"owner", e.alice.ID, tok, now, true},
		{"another user", keys.NewID(), tok, now, false},
		{"unknown token", e.alice.ID, keys.NewToken(), now, false},
		{"malformed token", e.alice.ID, tok[:20], now, false},
		{"expired", e.alice.ID, tok, now.Add(2 * time.Hour), false},
	} {
		err := f.Verify(ctx, &factorCall{u: &store.User{ID: tc.user}, now: tc.at}, tc.token)
		if (err == nil) != tc.ok {
			t.Errorf("%s: Verify = %v", tc.name, err)
		}
	}
	off := newMFAEnv(t, MFAConfig{TrustedDevice: -1}, GuardConfig{})
	if ok, _ := off.svc.trust.Usable(ctx, off.alice, nil); ok {
		t.Error("usable with trusted devices turned off")
	}
}

package flows

import (
	"context"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
)

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

package flows

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
)

// TestGrantRules: the one mechanism behind reset, passwordless and
// invitation links: hash-only storage, single use shared by link and
// code, a bounded number of codes, replacement by a new request, expiry,
// and a peek that spends nothing.
func TestGrantRules(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	e := newEnv(t, Config{Now: clk.Now}, GuardConfig{})
	k := grantKind{Purpose: "test_grant", TTL: 15 * time.Minute, Code: true, Tries: 5}
	u := e.alice

	g, err := e.svc.issueGrant(ctx, k, u, "")
	if err != nil {
		t.Fatal(err)
	}
	if !wellFormedToken(g.Token) || !wellFormedCode(g.Code) || !g.ExpiresAt.Equal(clk.Now().Add(15*time.Minute)) {
		t.Fatalf("issued %q %q %v", g.Token, g.Code, g.ExpiresAt)
	}
	// Only hashes are stored: neither the token nor the code is in the row.
	row, err := e.mem.PeekToken(ctx, keys.HashToken(g.Token), k.Purpose, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(row.Hash+row.CodeHash+row.Data, g.Token) || strings.Contains(row.CodeHash, g.Code) || row.CodeHash == "" {
		t.Fatalf("stored row holds a secret: %+v", row)
	}
	// Peeking (a scanner's GET) spends nothing.
	for range 3 {
		if _, err := e.svc.peekGrant(ctx, k, g.Token); err != nil {
			t.Fatalf("peek: %v", err)
		}
	}
	// A new request replaces the old grant, link and code.
	g2, err := e.svc.issueGrant(ctx, k, u, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.peekGrant(ctx, k, g.Token); !errors.Is(err, errGrantInvalid) {
		t.Fatalf("replaced link: %v", err)
	}
	if g.Code != g2.Code {
		if _, err := e.svc.redeemCode(ctx, k, u.ID, g.Code); !errors.Is(err, errGrantInvalid) {
			t.Fatalf("replaced code: %v", err)
		}
	}
	// The code spends the link.
	if _, err := e.svc.redeemCode(ctx, k, u.ID, g2.Code); err != nil {
		t.Fatalf("right code: %v", err)
	}
	if _, err := e.svc.redeemToken(ctx, k, g2.Token); !errors.Is(err, errGrantInvalid) {
		t.Fatalf("link after its code: %v", err)
	}

	// Five wrong codes end the grant; the link dies with it.
	g3, _ := e.svc.issueGrant(ctx, k, u, "")
	wrong := "000000"
	if g3.Code == wrong {
		wrong = "111111"
	}
	for range 5 {
		if _, err := e.svc.redeemCode(ctx, k, u.ID, wrong); !errors.Is(err, errGrantInvalid) {
			t.Fatalf("wrong code: %v", err)
		}
	}
	if _, err := e.svc.redeemCode(ctx, k, u.ID, g3.Code); !errors.Is(err, errGrantInvalid) {
		t.Fatalf("right code after five wrong ones: %v", err)
	}
	if _, err := e.svc.redeemToken(ctx, k, g3.Token); !errors.Is(err, errGrantInvalid) {
		t.Fatalf("link after five wrong codes: %v", err)
	}

	// Expiry.
	g4, _ := e.svc.issueGrant(ctx, k, u, "")
	clk.Advance(15 * time.Minute)
	if _, err := e.svc.redeemToken(ctx, k, g4.Token); !errors.Is(err, errGrantInvalid) {
		t.Fatalf("expired link: %v", err)
	}

	// Another kind is another grant: a reset link does not sign in.
	g5, _ := e.svc.issueGrant(ctx, k, u, "")
	other := k
	other.Purpose = "other_grant"
	if _, err := e.svc.redeemToken(ctx, other, g5.Token); !errors.Is(err, errGrantInvalid) {
		t.Fatalf("link of another kind: %v", err)
	}
	if _, err := e.svc.redeemToken(ctx, k, g5.Token); err != nil {
		t.Fatalf("link: %v", err)
	}
	if _, err := e.svc.redeemToken(ctx, k, g5.Token); !errors.Is(err, errGrantInvalid) {
		t.Fatalf("link twice: %v", err)
	}
}

// TestGrantCodesSurviveRotation: a code sent under the previous secret
// still works while previous_secret is set.
func TestGrantCodesSurviveRotation(t *testing.T) {
	ctx := context.Background()
	oldSecret, newSecret := keys.NewToken()+keys.NewToken(), keys.NewToken()+keys.NewToken()
	oldRing, err := keys.NewRing(oldSecret, "")
	if err != nil {
		t.Fatal(err)
	}
	newRing, err := keys.NewRing(newSecret, oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{Keys: oldRing}, GuardConfig{})
	k := grantKind{Purpose: "test_grant", TTL: time.Minute, Code: true, Tries: 5}
	g, err := e.svc.issueGrant(ctx, k, e.alice, "")
	if err != nil {
		t.Fatal(err)
	}
	e.svc.keys = newRing
	if _, err := e.svc.redeemCode(ctx, k, e.alice.ID, g.Code); err != nil {
		t.Fatalf("code after rotation: %v", err)
	}
}

// TestGrantStoreFailure: a store error is not "invalid": callers answer
// 503, never a refusal that looks like a used link.
func TestGrantStoreFailure(t *testing.T) {
	ctx := context.Background()
	e := newEnvWith(t, Config{}, GuardConfig{}, func(d *Deps) { d.Grants = downGrants{} })
	k := grantKind{Purpose: "test_grant", TTL: time.Minute, Code: true, Tries: 5}
	if _, err := e.svc.issueGrant(ctx, k, e.alice, ""); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("issue: %v", err)
	}
	tok := keys.NewToken()
	for name, f := range map[string]func() error{
		"peek":   func() error { _, err := e.svc.peekGrant(ctx, k, tok); return err },
		"redeem": func() error { _, err := e.svc.redeemToken(ctx, k, tok); return err },
		"code":   func() error { _, err := e.svc.redeemCode(ctx, k, e.alice.ID, "123456"); return err },
	} {
		if err := f(); !errors.Is(err, store.ErrUnavailable) || errors.Is(err, errGrantInvalid) {
			t.Errorf("%s: %v, want unavailable", name, err)
		}
	}
}

// downGrants is a grant store that cannot be reached.
type downGrants struct{}

func (downGrants) CreateToken(context.Context, *store.OneTimeToken) error {
	return store.ErrUnavailable
}

func (downGrants) IssueToken(context.Context, *store.OneTimeToken) error { return store.ErrUnavailable }

func (downGrants) ConsumeToken(context.Context, string, string, time.Time) (*store.OneTimeToken, error) {
	return nil, store.ErrUnavailable
}

func (downGrants) PeekToken(context.Context, string, string, time.Time) (*store.OneTimeToken, error) {
	return nil, store.ErrUnavailable
}

func (downGrants) TryCode(context.Context, string, string, []string, int, time.Time) (*store.OneTimeToken, error) {
	return nil, store.ErrUnavailable
}

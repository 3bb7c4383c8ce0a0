package session

import (
	"context"
	"errors"
	"testing"
)

// TestBypassCache: while bypassed every Validate reads the store, so a
// revocation the cache never heard of is felt at once; afterwards the cache
// serves again.
func TestBypassCache(t *testing.T) {
	m1, mem, cs, clk, u := setup(t, Config{})
	m2, _ := New(mem, mem, Config{Now: clk.Now})
	ctx := context.Background()
	id, _ := m1.Create(ctx, u, "", "")
	if _, err := m1.Validate(ctx, id.Token); err != nil {
		t.Fatal(err)
	}
	m1.BypassCache(true)
	if !m1.CacheBypassed() {
		t.Fatal("CacheBypassed = false after BypassCache(true)")
	}
	before := cs.gets
	for range 3 {
		if _, err := m1.Validate(ctx, id.Token); err != nil {
			t.Fatal(err)
		}
	}
	if got := cs.gets - before; got != 3 {
		t.Fatalf("store reads while bypassed = %d, want 3", got)
	}
	// Revoked elsewhere, with no message: still refused here at once.
	if err := m2.Revoke(ctx, id.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := m1.Validate(ctx, id.Token); !errors.Is(err, ErrNoSession) {
		t.Fatalf("bypassed cache served a revoked session: %v", err)
	}
	m1.BypassCache(false)
	other, _ := m1.Create(ctx, u, "", "")
	_, _ = m1.Validate(ctx, other.Token)
	before = cs.gets
	_, _ = m1.Validate(ctx, other.Token)
	if cs.gets != before {
		t.Fatal("cache not used again after BypassCache(false)")
	}
}

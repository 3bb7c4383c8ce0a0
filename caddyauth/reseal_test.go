package caddyauth

import (
	"context"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
)

// TestResealTOTP: after `secret reseal`, authenticator secrets open with the
// new secret alone, so dropping previous_secret no longer loses them.
func TestResealTOTP(t *testing.T) {
	ctx := context.Background()
	oldS, newS := keys.NewToken()+keys.NewToken(), keys.NewToken()+keys.NewToken()
	oldRing, _ := keys.NewRing(oldS, "")
	rotated, _ := keys.NewRing(newS, oldS)
	newOnly, _ := keys.NewRing(newS, "")
	m := memory.New()
	now := time.Now()
	for _, id := range []string{"u1", "u2"} {
		if err := m.CreateUser(ctx, &store.User{ID: id, Email: id + "@example.test", Status: store.StatusActive, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(m.CreateTOTP(ctx, &store.TOTPDevice{ID: "d1", UserID: "u1", Secret: oldRing.Seal("totp", []byte("SECRET1"), []byte("u1")), CreatedAt: now}))
	must(m.CreateTOTP(ctx, &store.TOTPDevice{ID: "d2", UserID: "u2", Secret: []byte("garbage that opens with nothing"), CreatedAt: now}))
	n, failed, err := resealTOTP(ctx, m, rotated)
	if err != nil || n != 1 || failed != 1 {
		t.Fatalf("reseal = %d, %d, %v; want 1 resealed, 1 unopenable", n, failed, err)
	}
	devs, _ := m.ListTOTP(ctx, "u1")
	if pt, err := newOnly.Open("totp", devs[0].Secret, []byte("u1")); err != nil || string(pt) != "SECRET1" {
		t.Errorf("after reseal, the new secret alone opens %q, %v", pt, err)
	}
}

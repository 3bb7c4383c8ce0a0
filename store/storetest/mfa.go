package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

// MFAStores is what the MFA conformance test needs from a backend.
type MFAStores interface {
	store.UserStore
	store.MFAStore
}

// TestMFAStore checks TOTP devices (with the replay guard under
// concurrency), recovery codes, trusted devices, reset and the cascade on
// user deletion.
func TestMFAStore(t *testing.T, open func(t *testing.T) MFAStores) {
	ctx := context.Background()
	now := time.Now()

	t.Run("totp", func(t *testing.T) {
		s := open(t)
		must(t, "user", s.CreateUser(ctx, user("u1", "u1@example.com", now)))
		must(t, "user", s.CreateUser(ctx, user("u2", "u2@example.com", now)))
		d := &store.TOTPDevice{ID: "d1", UserID: "u1", Name: "phone", Secret: []byte{0, 1, 2, 255}, CreatedAt: now}
		must(t, "create", s.CreateTOTP(ctx, d))
		d.Secret[0] = 9 // the store must have copied
		wantErr(t, "duplicate id", s.CreateTOTP(ctx, &store.TOTPDevice{ID: "d1", UserID: "u1", Secret: []byte{1}, CreatedAt: now}), store.ErrConflict)
		wantErr(t, "unknown user", s.CreateTOTP(ctx, &store.TOTPDevice{ID: "d9", UserID: "nobody", Secret: []byte{1}, CreatedAt: now}), store.ErrNotFound)
		l, err := s.ListTOTP(ctx, "u1")
		must(t, "list", err)
		if len(l) != 1 || l[0].Name != "phone" || string(l[0].Secret) != "\x00\x01\x02\xff" || l[0].Confirmed() {
			t.Fatalf("list = %+v", l)
		}
		must(t, "confirm", s.ConfirmTOTP(ctx, "u1", "d1", 100, now))
		wantErr(t, "confirm by another user", s.ConfirmTOTP(ctx, "u2", "d1", 200, now), store.ErrConflict)
		wantErr(t, "same step again", s.UseTOTPStep(ctx, "u1", "d1", 100), store.ErrConflict)
		wantErr(t, "older step", s.UseTOTPStep(ctx, "u1", "d1", 99), store.ErrConflict)
		must(t, "next step", s.UseTOTPStep(ctx, "u1", "d1", 101))
		l, _ = s.ListTOTP(ctx, "u1")
		if !l[0].Confirmed() || l[0].LastStep != 101 {
			t.Errorf("after use: %+v", l[0])
		}
		// Many racers with one code: exactly one wins.
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.UseTOTPStep(ctx, "u1", "d1", 102)
				if err == nil {
					wins.Add(1)
				} else if !errors.Is(err, store.ErrConflict) {
					t.Errorf("racer: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Errorf("%d racers accepted the same step; want 1", wins.Load())
		}
		must(t, "reseal", s.ResealTOTP(ctx, "u1", "d1", []byte("resealed")))
		wantErr(t, "reseal other's", s.ResealTOTP(ctx, "u2", "d1", []byte("x")), store.ErrNotFound)
		all, err := s.AllTOTP(ctx)
		if err != nil || len(all) != 1 || string(all[0].Secret) != "resealed" || all[0].LastStep != 102 {
			t.Errorf("AllTOTP after reseal = %+v, %v", all, err)
		}
		wantErr(t, "delete other's", s.DeleteTOTP(ctx, "u2", "d1"), store.ErrNotFound)
		must(t, "delete", s.DeleteTOTP(ctx, "u1", "d1"))
		wantErr(t, "delete again", s.DeleteTOTP(ctx, "u1", "d1"), store.ErrNotFound)
	})

	t.Run("recovery codes", func(t *testing.T) {
		s := open(t)
		must(t, "user", s.CreateUser(ctx, user("u1", "u1@example.com", now)))
		must(t, "set", s.ReplaceRecoveryCodes(ctx, "u1", []string{"a", "b", "c"}))
		must(t, "use", s.UseRecoveryCode(ctx, "u1", "b"))
		wantErr(t, "use twice", s.UseRecoveryCode(ctx, "u1", "b"), store.ErrNotFound)
		wantErr(t, "other user", s.UseRecoveryCode(ctx, "u2", "a"), store.ErrNotFound)
		if n, err := s.CountRecoveryCodes(ctx, "u1"); err != nil || n != 2 {
			t.Errorf("count = %d, %v; want 2", n, err)
		}
		must(t, "regenerate", s.ReplaceRecoveryCodes(ctx, "u1", []string{"x"}))
		wantErr(t, "old set", s.UseRecoveryCode(ctx, "u1", "a"), store.ErrNotFound)
		must(t, "new set", s.UseRecoveryCode(ctx, "u1", "x"))
	})

	t.Run("trusted devices", func(t *testing.T) {
		s := open(t)
		must(t, "user", s.CreateUser(ctx, user("u1", "u1@example.com", now)))
		live := &store.TrustedDevice{ID: NewID(), UserID: "u1", UserAgent: "ua", IP: "192.0.2.1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		old := &store.TrustedDevice{ID: NewID(), UserID: "u1", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
		must(t, "create", s.CreateTrustedDevice(ctx, live))
		must(t, "create expired", s.CreateTrustedDevice(ctx, old))
		got, err := s.GetTrustedDevice(ctx, live.ID, now)
		must(t, "get", err)
		if got.UserID != "u1" || got.UserAgent != "ua" || got.IP != "192.0.2.1" || !sameMs(got.ExpiresAt, live.ExpiresAt) {
			t.Errorf("get = %+v", got)
		}
		_, err = s.GetTrustedDevice(ctx, old.ID, now)
		wantErr(t, "expired", err, store.ErrNotFound)
		l, err := s.ListTrustedDevices(ctx, "u1", now)
		if err != nil || len(l) != 1 || l[0].ID != live.ID {
			t.Errorf("list = %v, %v; want only the live one", l, err)
		}
		wantErr(t, "delete other's", s.DeleteTrustedDevice(ctx, "u2", live.ID), store.ErrNotFound)
		must(t, "delete", s.DeleteTrustedDevice(ctx, "u1", live.ID))
		_, err = s.GetTrustedDevice(ctx, live.ID, now)
		wantErr(t, "deleted", err, store.ErrNotFound)
		must(t, "create again", s.CreateTrustedDevice(ctx, &store.TrustedDevice{ID: NewID(), UserID: "u1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
		must(t, "delete all", s.DeleteTrustedDevices(ctx, "u1"))
		if l, _ := s.ListTrustedDevices(ctx, "u1", now); len(l) != 0 {
			t.Errorf("after delete all: %d left", len(l))
		}
	})

	t.Run("reset and cascade", func(t *testing.T) {
		s := open(t)
		for _, id := range []string{"u1", "u2"} {
			must(t, "user", s.CreateUser(ctx, user(id, id+"@example.com", now)))
			must(t, "totp", s.CreateTOTP(ctx, &store.TOTPDevice{ID: "d-" + id, UserID: id, Secret: []byte{1}, CreatedAt: now}))
			must(t, "codes", s.ReplaceRecoveryCodes(ctx, id, []string{"c-" + id}))
			must(t, "trusted", s.CreateTrustedDevice(ctx, &store.TrustedDevice{ID: "t-" + id, UserID: id, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
		}
		must(t, "reset", s.ResetMFA(ctx, "u1"))
		must(t, "delete user", s.DeleteUser(ctx, "u2"))
		for _, id := range []string{"u1", "u2"} {
			if l, _ := s.ListTOTP(ctx, id); len(l) != 0 {
				t.Errorf("%s: totp devices left", id)
			}
			if n, _ := s.CountRecoveryCodes(ctx, id); n != 0 {
				t.Errorf("%s: recovery codes left", id)
			}
			if _, err := s.GetTrustedDevice(ctx, "t-"+id, now); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: trusted device left (%v)", id, err)
			}
		}
	})
}

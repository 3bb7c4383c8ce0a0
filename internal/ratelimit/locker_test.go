package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store/memory"
)

// TestLockers: the in-process and the shared lockout behave alike: lock at
// max, per pair, cleared by success, lifted for every address at once by
// UnlockIdentifier.
func TestLockers(t *testing.T) {
	ctx := context.Background()
	for name, mk := range map[string]func() Locker{
		"local": func() Locker { return NewLockout(3, time.Minute, time.Hour, 0).Locker() },
		"store": func() Locker { return NewStoreLocker(memory.New(), 3, time.Minute, time.Hour) },
	} {
		t.Run(name, func(t *testing.T) {
			l := mk()
			now := time.Unix(1_700_000_000, 0)
			for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
				for i := range 3 {
					locked, err := l.Fail(ctx, "a@example.test", ip, now)
					if err != nil || locked != (i == 2) {
						t.Fatalf("fail %d from %s: locked=%v err=%v", i+1, ip, locked, err)
					}
				}
			}
			if locked, wait, _ := l.Locked(ctx, "a@example.test", "192.0.2.1", now.Add(time.Minute)); !locked || wait != 59*time.Minute {
				t.Fatalf("Locked = %v %s, want true 59m", locked, wait)
			}
			if locked, _, _ := l.Locked(ctx, "a@example.test", "192.0.2.3", now); locked {
				t.Fatal("another address is locked")
			}
			_, _ = l.Fail(ctx, "b@example.test", "192.0.2.1", now)
			_, _ = l.Fail(ctx, "b@example.test", "192.0.2.1", now)
			if err := l.Succeed(ctx, "b@example.test", "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			if locked, _ := l.Fail(ctx, "b@example.test", "192.0.2.1", now); locked {
				t.Fatal("failures before a success still counted")
			}
			n, err := l.UnlockIdentifier(ctx, "a@example.test", now)
			if err != nil || n != 2 {
				t.Fatalf("UnlockIdentifier = %d, %v; want 2", n, err)
			}
			for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
				if locked, _, _ := l.Locked(ctx, "a@example.test", ip, now); locked {
					t.Errorf("%s still locked after unlock", ip)
				}
			}
		})
	}
	off := NewStoreLocker(nil, 0, time.Minute, time.Hour) // nil store: never touched when off
	if locked, err := off.Fail(ctx, "a", "b", time.Now()); locked || err != nil {
		t.Fatalf("disabled lockout: %v %v", locked, err)
	}
}

package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

// TestSettingsStore runs the settings conformance suite; open returns a
// fresh, empty store.
func TestSettingsStore(t *testing.T, open func(t *testing.T) store.SettingsStore) {
	ctx := context.Background()
	t.Run("EmptyThenSetAndOverwrite", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		got, err := s.Settings(ctx, "method:")
		must(t, "settings", err)
		if len(got) != 0 {
			t.Fatalf("fresh store has settings %v", got)
		}
		now := time.Now()
		must(t, "set", s.SetSetting(ctx, "method:password", "off", now))
		must(t, "set", s.SetSetting(ctx, "method:oauth:google", "on", now))
		must(t, "set", s.SetSetting(ctx, "other", "x", now))
		must(t, "overwrite", s.SetSetting(ctx, "method:oauth:google", "off", now.Add(time.Second)))
		got, err = s.Settings(ctx, "method:")
		must(t, "settings", err)
		want := map[string]string{"method:password": "off", "method:oauth:google": "off"}
		if len(got) != len(want) {
			t.Fatalf("settings = %v, want %v", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("settings[%q] = %q, want %q", k, got[k], v)
			}
		}
	})
	t.Run("PrefixIsLiteral", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		must(t, "set", s.SetSetting(ctx, "a_b", "1", time.Now()))
		must(t, "set", s.SetSetting(ctx, "axb", "2", time.Now()))
		must(t, "set", s.SetSetting(ctx, "a%c", "3", time.Now()))
		got, err := s.Settings(ctx, "a_")
		must(t, "settings", err)
		if len(got) != 1 || got["a_b"] != "1" {
			t.Errorf("prefix a_ matched %v: '_' must not be a wildcard", got)
		}
		got, err = s.Settings(ctx, "a%")
		must(t, "settings", err)
		if len(got) != 1 || got["a%c"] != "3" {
			t.Errorf("prefix a%% matched %v: '%%' must not be a wildcard", got)
		}
	})
}

// TestLockoutStore runs the lockout conformance suite; open returns a
// fresh, empty store.
func TestLockoutStore(t *testing.T, open func(t *testing.T) store.LockoutStore) {
	ctx := context.Background()
	p := store.LockoutPolicy{Max: 3, Window: time.Minute, Duration: 10 * time.Minute}
	t0 := time.UnixMilli(time.Now().UnixMilli())

	t.Run("LocksAtMaxWithinWindow", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for i := range 2 {
			locked, err := s.LockoutFail(ctx, "a@example.test", "192.0.2.1", t0.Add(time.Duration(i)*time.Second), p)
			must(t, "fail", err)
			if locked {
				t.Fatalf("locked after %d failures", i+1)
			}
		}
		until, err := s.LockedUntil(ctx, "a@example.test", "192.0.2.1", t0.Add(2*time.Second))
		must(t, "status", err)
		if !until.IsZero() {
			t.Fatalf("locked before max: until %v", until)
		}
		locked, err := s.LockoutFail(ctx, "a@example.test", "192.0.2.1", t0.Add(2*time.Second), p)
		must(t, "fail", err)
		if !locked {
			t.Fatal("third failure did not lock")
		}
		until, err = s.LockedUntil(ctx, "a@example.test", "192.0.2.1", t0.Add(3*time.Second))
		must(t, "status", err)
		checkTime(t, "LockedUntil", until, t0.Add(2*time.Second+p.Duration))
		// Other pairs are untouched: same address, other identifier; same
		// identifier, other address.
		for _, k := range [][2]string{{"b@example.test", "192.0.2.1"}, {"a@example.test", "192.0.2.2"}} {
			until, err := s.LockedUntil(ctx, k[0], k[1], t0.Add(3*time.Second))
			must(t, "status", err)
			if !until.IsZero() {
				t.Errorf("pair %v locked too", k)
			}
		}
		// The lock ends by itself.
		until, err = s.LockedUntil(ctx, "a@example.test", "192.0.2.1", t0.Add(2*time.Second+p.Duration))
		must(t, "status", err)
		if !until.IsZero() {
			t.Errorf("still locked at its end: %v", until)
		}
	})

	t.Run("WindowExpires", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for i, at := range []time.Duration{0, 30 * time.Second, 61 * time.Second, 62 * time.Second} {
			locked, err := s.LockoutFail(ctx, "a@example.test", "192.0.2.1", t0.Add(at), p)
			must(t, "fail", err)
			if locked {
				t.Fatalf("failure %d at +%s locked: failures outside the window still counted", i+1, at)
			}
		}
		locked, err := s.LockoutFail(ctx, "a@example.test", "192.0.2.1", t0.Add(63*time.Second), p)
		must(t, "fail", err)
		if !locked {
			t.Fatal("three failures in a fresh window did not lock")
		}
	})

	t.Run("ClearAndClearIdentifier", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		lock := func(id, ip string) {
			t.Helper()
			for range p.Max {
				_, err := s.LockoutFail(ctx, id, ip, t0, p)
				must(t, "fail", err)
			}
		}
		lock("a@example.test", "192.0.2.1")
		lock("a@example.test", "192.0.2.2")
		_, err := s.LockoutFail(ctx, "a@example.test", "192.0.2.3", t0, p) // failures, no lock
		must(t, "fail", err)
		lock("b@example.test", "192.0.2.1")
		lock("c@example.test", "192.0.2.9")

		must(t, "clear", s.LockoutClear(ctx, "c@example.test", "192.0.2.9"))
		if until, _ := s.LockedUntil(ctx, "c@example.test", "192.0.2.9", t0); !until.IsZero() {
			t.Error("LockoutClear left the lock")
		}
		n, err := s.LockoutClearIdentifier(ctx, "a@example.test", t0)
		must(t, "clear identifier", err)
		if n != 2 {
			t.Errorf("LockoutClearIdentifier = %d, want the 2 locked pairs", n)
		}
		for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
			if until, _ := s.LockedUntil(ctx, "a@example.test", ip, t0); !until.IsZero() {
				t.Errorf("a@ from %s still locked", ip)
			}
		}
		// The half-counted pair starts again from zero.
		for i := range p.Max - 1 {
			locked, err := s.LockoutFail(ctx, "a@example.test", "192.0.2.3", t0, p)
			must(t, "fail", err)
			if locked {
				t.Fatalf("cleared pair locked after %d new failures", i+1)
			}
		}
		if until, _ := s.LockedUntil(ctx, "b@example.test", "192.0.2.1", t0); until.IsZero() {
			t.Error("clearing a@ unlocked b@")
		}
		n, err = s.LockoutClearIdentifier(ctx, "nobody@example.test", t0)
		must(t, "clear unknown", err)
		if n != 0 {
			t.Errorf("clearing an unknown identifier = %d", n)
		}
	})

	t.Run("Purge", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		_, err := s.LockoutFail(ctx, "a@example.test", "192.0.2.1", t0, p) // window ends t0+1m
		must(t, "fail", err)
		for range p.Max {
			_, err := s.LockoutFail(ctx, "b@example.test", "192.0.2.1", t0, p) // locked until t0+10m
			must(t, "fail", err)
		}
		n, err := s.PurgeLockouts(ctx, t0.Add(2*time.Minute))
		must(t, "purge", err)
		if n != 1 {
			t.Errorf("purge at +2m = %d, want 1 (the expired window)", n)
		}
		if until, _ := s.LockedUntil(ctx, "b@example.test", "192.0.2.1", t0.Add(2*time.Minute)); until.IsZero() {
			t.Error("purge removed a live lock")
		}
		n, err = s.PurgeLockouts(ctx, t0.Add(11*time.Minute))
		must(t, "purge", err)
		if n != 1 {
			t.Errorf("purge at +11m = %d, want 1 (the ended lock)", n)
		}
	})

	t.Run("ConcurrentFailuresLockOnce", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		big := store.LockoutPolicy{Max: 10, Window: time.Hour, Duration: time.Hour}
		var wg sync.WaitGroup
		var locks atomic.Int32
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				locked, err := s.LockoutFail(ctx, "a@example.test", "192.0.2.1", t0, big)
				if err != nil {
					t.Errorf("fail: %v", err)
				}
				if locked {
					locks.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := locks.Load(); n != 1 {
			t.Errorf("10 concurrent failures with max 10 reported %d locks, want exactly 1", n)
		}
	})
}

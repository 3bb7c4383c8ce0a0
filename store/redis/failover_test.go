package redisstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/test/harness"
)

// TestSentinelFailover: sessions and rate-limit budget made on the master
// are there after the sentinels promote the replica (kill -9 of the
// master), the store answers ErrUnavailable (never "no session") while
// there is no master, and the same client object follows the new master
// without being reopened. With no master left at all, it fails closed.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	sn := harness.StartSentinel(t)
	s := openHA(t, Config{MasterName: harness.SentinelMaster, Sentinels: sn.Addrs()})
	ctx := context.Background()
	now := time.Now()

	var ids []string
	for i := 0; i < 5; i++ {
		sess := session(fmt.Sprintf("u%d", i%2), now)
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sess.ID)
	}
	// A budget of 5 per 10 minutes: nothing refills during the test.
	l := ratelimit.NewRedis(s.Client(), s.Prefix()+"ratelimit:login:", ratelimit.Rate{N: 5, Per: 10 * time.Minute})
	allow := func() (bool, error) {
		ok, _, err := l.Allow(ctx, "203.0.113.7", time.Now())
		return ok, err
	}
	for i := 0; i < 3; i++ {
		if ok, err := allow(); !ok || err != nil {
			t.Fatalf("attempt %d before the failover: %v, %v", i+1, ok, err)
		}
	}
	// Replication is asynchronous: what the master acknowledged but had
	// not sent yet dies with it. WAIT makes the test about the failover,
	// not about that window (the docs say what it means).
	sn.Sync()

	promoted := sn.KillMaster()
	t.Logf("replica promoted %s after kill -9 of the master", promoted.Round(time.Millisecond))

	// Until the client has found the new master, every answer is an error
	// that fails closed, never "not found".
	start := time.Now()
	var back time.Duration
	for {
		_, err := s.GetSession(ctx, ids[0])
		if err == nil {
			back = time.Since(start)
			break
		}
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("during the failover GetSession said %v, want ErrUnavailable or the session", err)
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("the store did not follow the new master: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the store answered from the new master %s after promotion was seen", back.Round(time.Millisecond))

	for _, id := range ids {
		if _, err := s.GetSession(ctx, id); err != nil {
			t.Errorf("session %s… after the failover: %v", id[:8], err)
		}
	}
	list, err := s.ListUserSessions(ctx, "u0")
	if err != nil || len(list) != 3 {
		t.Errorf("u0 has %d sessions after the failover (%v), want 3", len(list), err)
	}
	// The budget continues where it was: 2 left, then refused.
	for i := 4; i <= 6; i++ {
		ok, err := allow()
		if err != nil {
			t.Fatalf("attempt %d after the failover: %v", i, err)
		}
		if ok != (i <= 5) {
			t.Errorf("attempt %d after the failover: allowed = %v, want %v (the budget must not reset)", i, ok, i <= 5)
		}
	}
	// Writes go to the new master.
	if err := s.CreateSession(ctx, session("u0", time.Now())); err != nil {
		t.Errorf("create after the failover: %v", err)
	}
	if _, err := s.DeleteUserSessions(ctx, "u1"); err != nil {
		t.Errorf("logout-all after the failover: %v", err)
	}

	// No master left, although the sentinels still answer: every call
	// fails closed, and fast.
	sn.Replica.Kill()
	start = time.Now()
	if _, err := s.GetSession(ctx, ids[0]); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetSession with no master: %v, want ErrUnavailable", err)
	}
	if err := s.CreateSession(ctx, session("u1", time.Now())); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CreateSession with no master: %v, want ErrUnavailable", err)
	}
	if ok, _, err := l.Allow(ctx, "203.0.113.8", time.Now()); ok || err == nil {
		t.Errorf("rate limit with no master: allowed = %v, err = %v; want an error (the login then fails closed)", ok, err)
	}
	d := time.Since(start)
	t.Logf("three calls failed closed in %s with no master", d.Round(time.Millisecond))
	if d > 10*time.Second {
		t.Errorf("failing closed took %s", d)
	}
}

package redisstore

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/storetest"
)

// These tests need a real redis-server; they fail (never skip) without one.

func testURL() string {
	addr := os.Getenv("CADDYAUTH_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	if !strings.Contains(addr, "://") {
		addr = "redis://" + addr + "/0"
	}
	return addr
}

// testClient connects to the test Redis or fails the test with how to fix it.
func testClient(t *testing.T) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(testURL())
	if err != nil {
		t.Fatalf("CADDYAUTH_TEST_REDIS=%q: %v", os.Getenv("CADDYAUTH_TEST_REDIS"), err)
	}
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		t.Fatalf("Redis is not reachable at %s: %v\n"+
			"These tests need a real redis-server. Start one with\n"+
			"    redis-server --port 6379 --save '' --appendonly no --daemonize yes\n"+
			"or point CADDYAUTH_TEST_REDIS at one (host:port or redis:// URL).", opts.Addr, err)
	}
	return c
}

// openTest returns a store with a random key prefix; its keys are deleted
// when the test ends. The database is shared, so nothing is flushed.
func openTest(t *testing.T) (*Store, *redis.Client) {
	t.Helper()
	c := testClient(t)
	prefix := "caddyauth-test:" + storetest.NewID()[:16] + ":"
	s := New(c, prefix)
	t.Cleanup(func() {
		ctx := context.Background()
		var keys []string
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleanup scan: %v", err)
		}
		if len(keys) > 0 {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("cleanup del: %v", err)
			}
		}
		s.Close()
	})
	return s, c
}

func noUser(*testing.T, string) {}

func TestSessionStore(t *testing.T) {
	storetest.TestSessionStore(t, func(t *testing.T) (store.SessionStore, storetest.AddUser) {
		s, _ := openTest(t)
		return s, noUser
	})
}

func TestTokenStore(t *testing.T) {
	storetest.TestTokenStore(t, func(t *testing.T) (store.TokenStore, storetest.AddUser) {
		s, _ := openTest(t)
		return s, noUser
	})
}

func session(user string, now time.Time) *store.Session {
	return &store.Session{
		ID: storetest.NewID(), UserID: user, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(24 * time.Hour), IdleExpiresAt: now.Add(time.Hour),
	}
}

func near(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if d := got - want; d < -2*time.Second || d > 2*time.Second {
		t.Errorf("%s = %v, want about %v", what, got, want)
	}
}

// TestKeyLayout pins the documented key names and expiries: session keys
// expire at the deadline (and move with Touch), the index at the longest
// absolute lifetime.
func TestKeyLayout(t *testing.T) {
	ctx := context.Background()
	s, c := openTest(t)
	now := time.Now()
	sess := session("u1", now)
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	key, idx := s.prefix+"session:"+sess.ID, s.prefix+"user-sessions:u1"
	near(t, "session TTL", c.PTTL(ctx, key).Val(), time.Hour)
	near(t, "index TTL", c.PTTL(ctx, idx).Val(), 24*time.Hour)
	if score := c.ZScore(ctx, idx, sess.ID).Val(); int64(score) != sess.CreatedAt.UnixMilli() {
		t.Errorf("index score = %v, want CreatedAt %d", score, sess.CreatedAt.UnixMilli())
	}

	if err := s.TouchSession(ctx, sess.ID, now, now.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	near(t, "session TTL after touch", c.PTTL(ctx, key).Val(), 3*time.Hour)
	// The idle deadline may not carry a session past its absolute end.
	if err := s.TouchSession(ctx, sess.ID, now, now.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	near(t, "session TTL capped at ExpiresAt", c.PTTL(ctx, key).Val(), 24*time.Hour)

	// A shorter-lived second session must not shorten the index.
	short := session("u1", now)
	short.ExpiresAt = now.Add(time.Hour)
	if err := s.CreateSession(ctx, short); err != nil {
		t.Fatal(err)
	}
	near(t, "index TTL after shorter session", c.PTTL(ctx, idx).Val(), 24*time.Hour)

	if err := s.CreateToken(ctx, &store.OneTimeToken{Hash: "h1", Purpose: "p", ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	near(t, "token TTL", c.PTTL(ctx, s.prefix+"token:h1").Val(), 10*time.Minute)

	if err := s.DeleteSession(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if c.Exists(ctx, key).Val() != 0 || !errors.Is(c.ZScore(ctx, idx, sess.ID).Err(), redis.Nil) {
		t.Error("DeleteSession left the key or its index entry")
	}
}

// TestListPrunesIndex: index entries whose session key is gone (expired,
// or deleted by something that did not know the user) are dropped.
func TestListPrunesIndex(t *testing.T) {
	ctx := context.Background()
	s, c := openTest(t)
	now := time.Now()
	a, b := session("u1", now), session("u1", now.Add(time.Millisecond))
	for _, x := range []*store.Session{a, b} {
		if err := s.CreateSession(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	c.Del(ctx, s.prefix+"session:"+a.ID)
	list, err := s.ListUserSessions(ctx, "u1")
	if err != nil || len(list) != 1 || list[0].ID != b.ID {
		t.Fatalf("list = %v, %v; want only %s", list, err, b.ID)
	}
	if n := c.ZCard(ctx, s.prefix+"user-sessions:u1").Val(); n != 1 {
		t.Errorf("index has %d entries after prune, want 1", n)
	}
}

func TestNewFromURL(t *testing.T) {
	testClient(t).Close() // fail with the how-to message if Redis is down
	s, err := NewFromURL(testURL())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.prefix != DefaultPrefix {
		t.Errorf("prefix = %q, want %q", s.prefix, DefaultPrefix)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := NewFromURL("http://localhost"); err == nil {
		t.Error("http:// URL accepted")
	}
}

// TestUnreachable: with Redis down every operation reports ErrUnavailable,
// so the gateway fails closed instead of treating "no answer" as "no
// session".
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now

	s, err := NewFromURL("redis://" + addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	now := time.Now()
	checks := map[string]func() error{
		"Ping":               func() error { return s.Ping(ctx) },
		"CreateSession":      func() error { return s.CreateSession(ctx, session("u1", now)) },
		"GetSession":         func() error { _, err := s.GetSession(ctx, "x"); return err },
		"TouchSession":       func() error { return s.TouchSession(ctx, "x", now, now.Add(time.Hour)) },
		"DeleteSession":      func() error { return s.DeleteSession(ctx, "x") },
		"ListUserSessions":   func() error { _, err := s.ListUserSessions(ctx, "u1"); return err },
		"DeleteUserSessions": func() error { _, err := s.DeleteUserSessions(ctx, "u1"); return err },
		"PurgeExpired":       func() error { _, err := s.PurgeExpired(ctx, now); return err },
		"CreateToken": func() error {
			return s.CreateToken(ctx, &store.OneTimeToken{Hash: "h", Purpose: "p", ExpiresAt: now.Add(time.Hour)})
		},
		"ConsumeToken": func() error { _, err := s.ConsumeToken(ctx, "h", "p", now); return err },
		"PeekToken":    func() error { _, err := s.PeekToken(ctx, "h", "p", now); return err },
	}
	// In parallel: each call spends go-redis's default retries and backoff.
	for op, f := range checks {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			if err := f(); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s with Redis down: err = %v, want ErrUnavailable", op, err)
			}
		})
	}
}

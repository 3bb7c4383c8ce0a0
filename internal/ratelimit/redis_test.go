package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func testRedis(t *testing.T) redis.UniversalClient {
	t.Helper()
	addr := os.Getenv("CADDYAUTH_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	opts := &redis.Options{Addr: strings.TrimPrefix(addr, "redis://")}
	if strings.HasPrefix(addr, "redis://") {
		var err error
		if opts, err = redis.ParseURL(addr); err != nil {
			t.Fatal(err)
		}
	}
	c := redis.NewClient(opts)
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis is not reachable at %s (%v): start redis-server or set CADDYAUTH_TEST_REDIS", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testPrefix(t *testing.T, c redis.UniversalClient) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	p := "caddyauth-test-rl:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, p+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return p
}

// TestRedisSharedBudget: two limiters (two instances) on one Redis spend
// one budget, concurrently.
func TestRedisSharedBudget(t *testing.T) {
	c := testRedis(t)
	prefix := testPrefix(t, c)
	a := NewRedis(c, prefix, Rate{N: 10, Per: time.Hour})
	b := NewRedis(c, prefix, Rate{N: 10, Per: time.Hour})
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(l *Redis) {
			defer wg.Done()
			ok, _, err := l.Allow(context.Background(), "alice", time.Now())
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}([]*Redis{a, b}[i%2])
	}
	wg.Wait()
	if allowed != 10 {
		t.Fatalf("%d allowed across two instances, want the shared burst of 10", allowed)
	}
	ok, wait, err := a.Allow(context.Background(), "alice", time.Now())
	if ok || err != nil || wait < 5*time.Minute || wait > 6*time.Minute {
		t.Fatalf("after the burst: ok=%v wait=%v err=%v (want ~6m)", ok, wait, err)
	}
	if ok, _, _ := b.Allow(context.Background(), "bob", time.Now()); !ok {
		t.Fatal("keys share a bucket")
	}
	ttl := c.PTTL(context.Background(), prefix+"alice").Val()
	if ttl <= 0 || ttl > time.Hour+time.Minute {
		t.Fatalf("bucket key TTL %v: state must expire", ttl)
	}
}

func TestRedisRefill(t *testing.T) {
	c := testRedis(t)
	l := NewRedis(c, testPrefix(t, c), Rate{N: 2, Per: 2 * time.Second})
	ctx := context.Background()
	l.Allow(ctx, "k", time.Now())
	l.Allow(ctx, "k", time.Now())
	ok, wait, _ := l.Allow(ctx, "k", time.Now())
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("ok=%v wait=%v", ok, wait)
	}
	time.Sleep(wait + 50*time.Millisecond)
	if ok, _, _ := l.Allow(ctx, "k", time.Now()); !ok {
		t.Fatal("no token after the advertised wait")
	}
}

func TestRedisDownFailsClosed(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	ok, _, err := NewRedis(c, "x:", Rate{N: 5, Per: time.Minute}).Allow(context.Background(), "k", time.Now())
	if ok || err == nil {
		t.Fatalf("ok=%v err=%v: an unreachable Redis must not allow", ok, err)
	}
}

package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/storetest"
	"github.com/caddyauth/gateway/test/harness"
)

// The HA tests start their own Sentinel set and Cluster (private
// redis-server processes on free ports); a missing binary fails them.

// openHA opens c like the gateway does (Open) with a random prefix per
// test, so the parallel conformance subtests share one topology.
func openHA(t *testing.T, c Config) *Store {
	t.Helper()
	s, err := Open(c)
	if err != nil {
		t.Fatal(err)
	}
	s.prefix = "caddyauth-test:" + storetest.NewID()[:16] + ":"
	t.Cleanup(func() { s.Close() })
	return s
}

// conformance runs the suite in one group, so its parallel subtests are
// done before the caller's next (fault) subtest.
func conformance(t *testing.T, c Config) {
	t.Run("Suite", func(t *testing.T) {
		storetest.TestSessionStore(t, func(t *testing.T) (store.SessionStore, storetest.AddUser) {
			return openHA(t, c), noUser
		})
		storetest.TestTokenStore(t, func(t *testing.T) (store.TokenStore, storetest.AddUser) {
			return openHA(t, c), noUser
		})
	})
}

// TestSentinelConformance: the whole suite on a Sentinel-managed master.
func TestSentinelConformance(t *testing.T) {
	t.Parallel()
	sn := harness.StartSentinel(t)
	c := Config{MasterName: harness.SentinelMaster, Sentinels: sn.Addrs()}
	conformance(t, c)
	t.Run("PubSub", func(t *testing.T) { pubsub(t, openHA(t, c), openHA(t, c)) })
}

// TestClusterConformance: the whole suite on a three-node Cluster. Every
// script names one key, and pipelines are split by slot, so no operation
// gets CROSSSLOT; the keys of one user land on several nodes.
func TestClusterConformance(t *testing.T) {
	t.Parallel()
	cl := harness.StartCluster(t)
	c := Config{Cluster: cl.Addrs()}
	conformance(t, c)
	t.Run("PubSub", func(t *testing.T) { pubsub(t, openHA(t, c), openHA(t, c)) })
	t.Run("RateLimit", func(t *testing.T) {
		s := openHA(t, c)
		l := ratelimit.NewRedis(s.Client(), s.Prefix()+"ratelimit:login:", ratelimit.Rate{N: 3, Per: time.Minute})
		// Keys on several nodes: each has its own budget of 3.
		for i := 0; i < 6; i++ {
			key := fmt.Sprintf("client-%d", i)
			for n := 1; n <= 4; n++ {
				ok, _, err := l.Allow(context.Background(), key, time.Now())
				if err != nil {
					t.Fatalf("%s attempt %d: %v", key, n, err)
				}
				if ok != (n <= 3) {
					t.Errorf("%s attempt %d: allowed = %v", key, n, ok)
				}
			}
		}
	})
	t.Run("Down", func(t *testing.T) {
		s := openHA(t, c)
		cl.Kill()
		ctx := context.Background()
		if _, err := s.GetSession(ctx, storetest.NewID()); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("GetSession with the cluster down: %v, want ErrUnavailable", err)
		}
		if err := s.CreateSession(ctx, session("u1", time.Now())); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("CreateSession with the cluster down: %v, want ErrUnavailable", err)
		}
	})
}

// pubsub: a revocation published through a reaches a subscriber on b.
func pubsub(t *testing.T, a, b *Store) {
	b.prefix = a.prefix
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 4)
	resync := make(chan struct{}, 4)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.SubscribeRevoked(ctx, func(id string) { got <- id }, func() { resync <- struct{}{} })
	}()
	defer wg.Wait()
	defer cancel()
	select {
	case <-resync:
	case <-time.After(5 * time.Second):
		t.Fatal("no subscription confirmation")
	}
	if err := a.PublishRevoked(ctx, []string{"id1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-got:
		if id != "id1" {
			t.Errorf("received %q", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("revocation not received")
	}
}

// TestSentinelPasswords: password (data nodes) and sentinel_password (the
// sentinels) reach the right servers; a wrong or missing one fails closed.
func TestSentinelPasswords(t *testing.T) {
	t.Parallel()
	sn := harness.StartSentinelAuth(t, "data-"+storetest.NewID()[:12], "sentinel-"+storetest.NewID()[:12])
	good := Config{
		MasterName: harness.SentinelMaster, Sentinels: sn.Addrs(),
		Username: "default", Password: sn.Password, SentinelPassword: sn.SentinelPassword,
	}
	ctx := context.Background()
	s := openHA(t, good)
	sess := session("u1", time.Now())
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("with the right passwords: %v", err)
	}
	if _, err := s.GetSession(ctx, sess.ID); err != nil {
		t.Fatalf("with the right passwords: %v", err)
	}
	for name, c := range map[string]Config{
		"no data password":        {MasterName: good.MasterName, Sentinels: good.Sentinels, SentinelPassword: good.SentinelPassword},
		"wrong data password":     {MasterName: good.MasterName, Sentinels: good.Sentinels, Password: "wrong", SentinelPassword: good.SentinelPassword},
		"no sentinel password":    {MasterName: good.MasterName, Sentinels: good.Sentinels, Password: good.Password},
		"wrong sentinel password": {MasterName: good.MasterName, Sentinels: good.Sentinels, Password: good.Password, SentinelPassword: "wrong"},
	} {
		err := openHA(t, c).Ping(ctx)
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s: Ping = %v, want ErrUnavailable", name, err)
		}
		if err != nil && (strings.Contains(err.Error(), sn.Password) || strings.Contains(err.Error(), sn.SentinelPassword)) {
			t.Errorf("%s: the error shows a password: %v", name, err)
		}
	}
}

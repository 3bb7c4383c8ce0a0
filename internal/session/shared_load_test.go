package session

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
)

// gateStore counts session and user reads. The first session read, once
// it has read the store, holds until release is closed (or its context
// ends), so a test can pile callers onto a load in flight.
type gateStore struct {
	store.SessionStore
	users    store.UserStore
	gets     atomic.Int32
	userGets atomic.Int32
	fail     atomic.Bool

	entered  chan struct{} // closed when the first read holds
	release  chan struct{}
	canceled chan struct{} // closed if the held read's context ended

	beforeDelete func() // if set, runs as DeleteSession starts
}

func (g *gateStore) DeleteSession(ctx context.Context, id string) error {
	if g.beforeDelete != nil {
		g.beforeDelete()
	}
	return g.SessionStore.DeleteSession(ctx, id)
}

func newGateStore(mem *memory.Store) *gateStore {
	return &gateStore{SessionStore: mem, users: mem, entered: make(chan struct{}), release: make(chan struct{}), canceled: make(chan struct{})}
}

func (g *gateStore) GetSession(ctx context.Context, id string) (*store.Session, error) {
	n := g.gets.Add(1)
	s, err := g.SessionStore.GetSession(ctx, id)
	if n == 1 {
		close(g.entered)
		select {
		case <-g.release:
		case <-ctx.Done():
			close(g.canceled)
			return nil, ctx.Err()
		}
	}
	if g.fail.Load() {
		return nil, store.ErrUnavailable
	}
	return s, err
}

// userCounter counts UserByID on the user store.
type userCounter struct {
	store.UserStore
	g *gateStore
}

func (u userCounter) UserByID(ctx context.Context, id string) (*store.User, error) {
	u.g.userGets.Add(1)
	return u.UserStore.UserByID(ctx, id)
}

func gateSetup(t *testing.T) (*Manager, *memory.Store, *gateStore, *Identity) {
	t.Helper()
	mem := memory.New()
	g := newGateStore(mem)
	m, err := New(g, userCounter{UserStore: mem, g: g}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	u := &store.User{ID: keys.NewID(), Email: "a@example.test", Status: store.StatusActive, Groups: []string{"staff"}}
	if err := mem.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	// Made directly in the store: Create reads the user, and the tests
	// count reads from the first Validate on.
	maker, err := New(mem, mem, Config{})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := maker.Create(ctx, u, "", "")
	if err != nil {
		t.Fatal(err)
	}
	g.userGets.Store(0)
	return m, mem, g, sess
}

// waitWaiters waits until n callers wait on the load of token in flight.
func waitWaiters(t *testing.T, m *Manager, token string, n int) {
	t.Helper()
	key, _ := idKey(keys.HashToken(token))
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m.cache.mu.RLock()
		f := m.cache.inflight[key]
		got := 0
		if f != nil {
			got = f.waiters
		}
		m.cache.mu.RUnlock()
		if got == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("never saw %d callers waiting on one load", n)
}

type result struct {
	id  *Identity
	err error
}

// validateAll starts n Validates of token and returns their results.
func validateAll(ctx context.Context, m *Manager, token string, n int) <-chan result {
	out := make(chan result, n)
	for range n {
		go func() {
			id, err := m.Validate(ctx, token)
			out <- result{id, err}
		}()
	}
	return out
}

// TestConcurrentMissesShareOneLoad: N requests of one session that miss
// the cache together cause one session read and one user read, and all
// get the identity (finding 7 of the peers benchmark).
func TestConcurrentMissesShareOneLoad(t *testing.T) {
	const n = 64
	m, _, g, sess := gateSetup(t)
	res := validateAll(context.Background(), m, sess.Token, n)
	<-g.entered
	waitWaiters(t, m, sess.Token, n)
	close(g.release)
	for range n {
		r := <-res
		if r.err != nil || r.id == nil || r.id.User.ID != sess.User.ID || r.id.Groups() != "staff" {
			t.Fatalf("shared load gave %+v, %v", r.id, r.err)
		}
	}
	if got, want := g.gets.Load(), int32(1); got != want {
		t.Fatalf("%d concurrent misses made %d session reads, want %d", n, got, want)
	}
	if got := g.userGets.Load(); got != 1 {
		t.Fatalf("%d concurrent misses made %d user reads, want 1", n, got)
	}
	// The shared result was cached.
	if _, err := m.Validate(context.Background(), sess.Token); err != nil || g.gets.Load() != 1 {
		t.Fatalf("after the shared load: %v, %d reads", err, g.gets.Load())
	}
}

// TestRevokeDuringSharedLoad: a revocation heard (broadcast, or a flush
// after the channel was down) while a shared load is in flight, after the
// load read the still-live session: a request that arrives afterwards does
// not join that load and is refused, and the load's result, which predates
// the revocation, is never cached.
func TestRevokeDuringSharedLoad(t *testing.T) {
	for _, how := range []string{"broadcast", "flush"} {
		t.Run(how, func(t *testing.T) {
			const early = 8
			m, mem, g, sess := gateSetup(t)
			other, _ := New(mem, mem, Config{})
			if how == "broadcast" {
				other.SetBroadcaster(recorderFunc(func(ids []string) {
					for _, id := range ids {
						m.Forget(id)
					}
				}))
			}
			ctx := context.Background()
			res := validateAll(ctx, m, sess.Token, early)
			<-g.entered // the held load has read the live session
			waitWaiters(t, m, sess.Token, early)

			if err := other.Revoke(ctx, sess.Token); err != nil {
				t.Fatal(err)
			}
			if how == "flush" {
				m.FlushCache()
			}

			late := validateAll(ctx, m, sess.Token, 1)
			select {
			case r := <-late:
				if !errors.Is(r.err, ErrNoSession) {
					t.Fatalf("request after the revocation got %+v, %v; want ErrNoSession", r.id, r.err)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("a request after the revocation joined the load begun before it")
			}

			close(g.release)
			for range early {
				// These arrived before the revocation: the pre-revocation
				// answer is what a cache hit would have given them.
				if r := <-res; r.err != nil {
					t.Fatalf("early caller: %v", r.err)
				}
			}
			key, _ := idKey(sess.Session.ID)
			if id, _ := m.cache.get(key); id != nil {
				t.Fatal("the load that began before the revocation was cached")
			}
			if id, err := m.Validate(ctx, sess.Token); !errors.Is(err, ErrNoSession) {
				t.Fatalf("revoked session served after the shared load landed: %+v, %v", id, err)
			}
		})
	}
}

// TestLocalRevokeDuringLoad: a load that begins on the revoking instance
// after its cache dropped the session but before the store delete reads
// the live session; it must not cache it.
func TestLocalRevokeDuringLoad(t *testing.T) {
	m, _, g, sess := gateSetup(t)
	ctx := context.Background()
	var res <-chan result
	g.beforeDelete = func() {
		g.beforeDelete = nil
		res = validateAll(ctx, m, sess.Token, 1)
		<-g.entered // it read the session before the delete
	}
	if err := m.Revoke(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	close(g.release)
	<-res // began before the delete: either answer is fair
	if id, err := m.Validate(ctx, sess.Token); !errors.Is(err, ErrNoSession) {
		t.Fatalf("revoked session served from the cache: %+v, %v", id, err)
	}
}

// TestSharedLoadFailsClosed: a store failure reaches every caller of the
// shared load as an ErrUnavailable error, never as an identity, and is not
// remembered: the next request asks the store again.
func TestSharedLoadFailsClosed(t *testing.T) {
	const n = 16
	m, _, g, sess := gateSetup(t)
	g.fail.Store(true)
	res := validateAll(context.Background(), m, sess.Token, n)
	<-g.entered
	waitWaiters(t, m, sess.Token, n)
	close(g.release)
	for range n {
		r := <-res
		if r.id != nil || r.err == nil || errors.Is(r.err, ErrNoSession) || !errors.Is(r.err, store.ErrUnavailable) {
			t.Fatalf("store failure gave %+v, %v; want an ErrUnavailable error", r.id, r.err)
		}
	}
	g.fail.Store(false)
	if _, err := m.Validate(context.Background(), sess.Token); err != nil {
		t.Fatal(err)
	}
	if got := g.gets.Load(); got != 2 {
		t.Fatalf("session reads = %d, want 2 (the failure is not cached)", got)
	}
}

// TestSharedLoadOutlivesFirstCaller: the request that started the load
// ending does not fail the others, which get the identity from that one
// load; when every caller is gone the load is cancelled and forgotten.
func TestSharedLoadOutlivesFirstCaller(t *testing.T) {
	t.Run("first leaves", func(t *testing.T) {
		const others = 8
		m, _, g, sess := gateSetup(t)
		firstCtx, cancel := context.WithCancel(context.Background())
		first := validateAll(firstCtx, m, sess.Token, 1)
		<-g.entered
		res := validateAll(context.Background(), m, sess.Token, others)
		waitWaiters(t, m, sess.Token, others+1)
		cancel()
		if r := <-first; !errors.Is(r.err, context.Canceled) {
			t.Fatalf("cancelled first caller got %+v, %v", r.id, r.err)
		}
		select {
		case <-g.canceled:
			t.Fatal("the first caller's cancellation cancelled the shared load")
		default:
		}
		close(g.release)
		for range others {
			if r := <-res; r.err != nil || r.id == nil {
				t.Fatalf("caller of a load whose first caller left: %v", r.err)
			}
		}
		if got := g.gets.Load(); got != 1 {
			t.Fatalf("session reads = %d, want 1", got)
		}
	})
	t.Run("all leave", func(t *testing.T) {
		m, _, g, sess := gateSetup(t)
		ctx, cancel := context.WithCancel(context.Background())
		res := validateAll(ctx, m, sess.Token, 3)
		<-g.entered
		waitWaiters(t, m, sess.Token, 3)
		cancel()
		for range 3 {
			if r := <-res; !errors.Is(r.err, context.Canceled) {
				t.Fatalf("cancelled caller got %v", r.err)
			}
		}
		select {
		case <-g.canceled:
		case <-time.After(3 * time.Second):
			t.Fatal("load kept running after every caller left")
		}
		if _, err := m.Validate(context.Background(), sess.Token); err != nil {
			t.Fatalf("a new request after the abandoned load: %v", err)
		}
	})
}

// slowStore adds a store round trip to every session read.
type slowStore struct {
	store.SessionStore
	delay time.Duration
	gets  atomic.Int64
}

func (s *slowStore) GetSession(ctx context.Context, id string) (*store.Session, error) {
	s.gets.Add(1)
	time.Sleep(s.delay)
	return s.SessionStore.GetSession(ctx, id)
}

// BenchmarkValidateExpiry: many requests of one session through a cache
// that expires every 10ms over a store with a 500µs round trip, the peers
// benchmark's PostgreSQL case in small. reads/op is session reads per
// request: each expiry costs one, however many requests miss at once.
func BenchmarkValidateExpiry(b *testing.B) {
	mem := memory.New()
	slow := &slowStore{SessionStore: mem, delay: 500 * time.Microsecond}
	m, _ := New(slow, mem, Config{CacheTTL: 10 * time.Millisecond})
	u := &store.User{ID: keys.NewID(), Email: "b@example.test", Status: store.StatusActive, Groups: []string{"staff"}}
	_ = mem.CreateUser(context.Background(), u)
	id, _ := m.Create(context.Background(), u, "", "")
	ctx := context.Background()
	slow.gets.Store(0)
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Validate(ctx, id.Token); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(slow.gets.Load())/float64(b.N), "reads/op")
}

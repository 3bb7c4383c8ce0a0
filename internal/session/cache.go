package session

import (
	"context"
	"sync"
	"time"
)

// cache maps a token hash to a validated identity. It is bounded: when full,
// an arbitrary entry (Go map order) is evicted, which is enough to stop a
// flood of distinct valid sessions from growing memory without limit.
//
// It also holds the store loads in flight, so the concurrent misses of one
// key (every request of a busy session when its entry expires) share one
// load instead of each reading the session and the user (finding 7 of the
// peers benchmark). A revocation or a flush detaches the loads in flight
// under the same lock that drops the entry: their result is never cached,
// and a request that arrives afterwards starts a load of its own.
type cache struct {
	mu       sync.RWMutex
	max      int
	m        map[[32]byte]cacheEntry
	inflight map[[32]byte]*flight
}

type cacheEntry struct {
	id      *Identity
	fetched time.Time
}

// flight is one store load shared by the callers that missed the same key
// while it ran. id and err are written once, before done is closed.
type flight struct {
	done chan struct{}
	id   *Identity
	err  error
	// waiters still wanting the answer; the last to give up cancels the
	// load, so it never outlives every request that asked for it.
	waiters int
	cancel  context.CancelFunc
	// stale: a revocation or flush came while loading. The result may
	// predate it, so it is not cached.
	stale bool
}

func newCache(max int) *cache {
	return &cache{max: max, m: make(map[[32]byte]cacheEntry), inflight: make(map[[32]byte]*flight)}
}

func (c *cache) get(k [32]byte) (*Identity, time.Time) {
	c.mu.RLock()
	e := c.m[k]
	c.mu.RUnlock()
	return e.id, e.fetched
}

func (c *cache) put(k [32]byte, id *Identity, now time.Time) {
	c.mu.Lock()
	c.putLocked(k, id, now)
	c.mu.Unlock()
}

func (c *cache) putLocked(k [32]byte, id *Identity, now time.Time) {
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = cacheEntry{id: id, fetched: now}
}

// join adds the caller to the load of k in flight, or starts one: lead is
// true when the caller must run it with lctx and call land. lctx keeps
// ctx's values but not its cancellation: the load is shared, so the first
// caller's request ending must not fail the others (leave cancels it once
// every waiter is gone).
func (c *cache) join(ctx context.Context, k [32]byte) (f *flight, lctx context.Context, lead bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.inflight[k]; f != nil {
		f.waiters++
		return f, nil, false
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f = &flight{done: make(chan struct{}), waiters: 1, cancel: cancel}
	c.inflight[k] = f
	return f, lctx, true
}

// leave: a waiter gave up (its request ended). The last one cancels the
// load and detaches it, so a later miss starts afresh rather than joining
// a cancelled load.
func (c *cache) leave(k [32]byte, f *flight) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f.waiters--
	if f.waiters > 0 {
		return
	}
	select {
	case <-f.done:
		return
	default:
	}
	if c.inflight[k] == f {
		delete(c.inflight, k)
	}
	f.stale = true
	f.cancel()
}

// land ends the load f of k: it caches id (when the load succeeded and no
// revocation or flush came meanwhile) and hands the result to the waiters.
func (c *cache) land(k [32]byte, f *flight, id *Identity, err error, now time.Time) {
	c.mu.Lock()
	if c.inflight[k] == f {
		delete(c.inflight, k)
	}
	if err == nil && !f.stale {
		c.putLocked(k, id, now)
	}
	f.id, f.err = id, err
	close(f.done)
	c.mu.Unlock()
	f.cancel()
}

// del drops k (a revocation): its entry, and its load in flight, whose
// result may predate the revocation.
func (c *cache) del(k [32]byte) {
	c.mu.Lock()
	delete(c.m, k)
	if f := c.inflight[k]; f != nil {
		f.stale = true
		delete(c.inflight, k)
	}
	c.mu.Unlock()
}

func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// clear drops every entry and detaches every load in flight.
func (c *cache) clear() {
	c.mu.Lock()
	clear(c.m)
	for k, f := range c.inflight {
		f.stale = true
		delete(c.inflight, k)
	}
	c.mu.Unlock()
}

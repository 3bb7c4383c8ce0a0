package session

import (
	"sync"
	"time"
)

// cache maps a token hash to a validated identity. It is bounded: when full,
// an arbitrary entry (Go map order) is evicted, which is enough to stop a
// flood of distinct valid sessions from growing memory without limit.
type cache struct {
	mu  sync.RWMutex
	max int
	m   map[[32]byte]cacheEntry
}

type cacheEntry struct {
	id      *Identity
	fetched time.Time
}

func newCache(max int) *cache {
	return &cache{max: max, m: make(map[[32]byte]cacheEntry)}
}

func (c *cache) get(k [32]byte) (*Identity, time.Time) {
	c.mu.RLock()
	e := c.m[k]
	c.mu.RUnlock()
	return e.id, e.fetched
}

func (c *cache) put(k [32]byte, id *Identity, now time.Time) {
	c.mu.Lock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = cacheEntry{id: id, fetched: now}
	c.mu.Unlock()
}

func (c *cache) del(k [32]byte) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

func (c *cache) clear() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

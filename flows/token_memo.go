package flows

import "sync"

// memo is a small bounded map for values that are cheap to lose and dear
// to recompute (a verified token's claims, a signed assertion). When full
// it starts over: no eviction order to keep, and no growth without bound
// however many keys come.
type memo[K comparable, V any] struct {
	mu  sync.RWMutex
	max int
	m   map[K]V
}

func (c *memo[K, V]) get(k K) (V, bool) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	return v, ok
}

func (c *memo[K, V]) put(k K, v V) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= c.max {
		c.m = make(map[K]V)
	}
	c.m[k] = v
	c.mu.Unlock()
}

// reset forgets everything (benchmarks measure the cold path with it).
func (c *memo[K, V]) reset() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}

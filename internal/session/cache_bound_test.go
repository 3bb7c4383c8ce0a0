package session

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

// identityFor is a cached identity of the size a real one has: a session
// id, a user with email, name and two groups.
func identityFor(i int) *Identity {
	s := fmt.Sprintf("%064x", i)
	return &Identity{
		Session:   store.Session{ID: s, UserID: s[:32]},
		User:      store.User{ID: s[:32], Email: fmt.Sprintf("user%d@example.com", i), Name: fmt.Sprintf("User %d", i), Groups: []string{"staff", "dev"}},
		groupsCSV: "staff,dev",
	}
}

func cacheKey(i int) (k [32]byte) {
	binary.LittleEndian.PutUint64(k[:], uint64(i))
	return k
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestCacheBoundedUnderMillionSessions: one million distinct valid
// sessions through a cache bounded to 10000 leave at most 10000 entries,
// and the heap they hold stays near what 10000 entries cost, not a
// million (issue 14 item 7).
func TestCacheBoundedUnderMillionSessions(t *testing.T) {
	const bound, total = 10000, 1_000_000
	before := heapInUse()
	c := newCache(bound)
	now := time.Now()
	shared := identityFor(0)
	for i := range total {
		id := shared
		if i%100 == 0 { // a realistic identity now and then, cheap enough under -race
			id = identityFor(i)
		}
		c.put(cacheKey(i), id, now)
		if n := c.len(); n > bound {
			t.Fatalf("after %d sessions the cache holds %d entries, bound %d", i+1, n, bound)
		}
	}
	fill := newCache(bound)
	for i := range bound {
		fill.put(cacheKey(i), identityFor(i), now)
	}
	held := heapInUse() - before
	// Both caches at their bound: c (mostly shared identities) and fill
	// (all distinct). A million unbounded entries would be over 100 MiB.
	if held > 32<<20 {
		t.Fatalf("two caches of %d entries hold %d MiB of heap", bound, held>>20)
	}
	runtime.KeepAlive(c)
	runtime.KeepAlive(fill)
}

// BenchmarkCacheBytesPerEntry reports the heap one cached session costs
// (key, entry and a realistic identity), to size session_cache_entries.
func BenchmarkCacheBytesPerEntry(b *testing.B) {
	const n = 100000
	for range b.N {
		before := heapInUse()
		c := newCache(n)
		now := time.Now()
		for i := range n {
			c.put(cacheKey(i), identityFor(i), now)
		}
		after := heapInUse()
		b.ReportMetric(float64(after-before)/n, "B/entry")
		runtime.KeepAlive(c)
	}
}

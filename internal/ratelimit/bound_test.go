package ratelimit

import (
	"runtime"
	"strconv"
	"testing"
	"time"
)

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// clientKey is the shape of a bucket key: an IPv6 /64 or IPv4 address.
func clientKey(i int) string { return "2001:db8:" + strconv.Itoa(i) + "::/64" }

// TestBoundsUnderMillionClients: one million distinct client addresses
// through a bucket and a lockout bounded to 10000 keys leave at most 10000
// keys in each, and a bounded heap, and keys that are limited right now
// keep their state while the flood passes (issue 14 item 7).
func TestBoundsUnderMillionClients(t *testing.T) {
	const bound, total = 10000, 1_000_000
	now := time.Now()
	before := heapInUse()
	l := NewLocal(Rate{N: 1, Per: time.Hour}, bound)
	lo := NewLockout(3, time.Hour, time.Hour, bound)
	for i := range total {
		k := clientKey(i)
		l.Take(k, now)
		lo.Fail(k, now)
		if i%1000 == 0 && (l.Len() > bound || lo.Len() > bound) {
			t.Fatalf("after %d clients: bucket %d keys, lockout %d keys, bound %d", i+1, l.Len(), lo.Len(), bound)
		}
	}
	if l.Len() > bound || lo.Len() > bound {
		t.Fatalf("bucket %d keys, lockout %d keys, bound %d", l.Len(), lo.Len(), bound)
	}
	if held := heapInUse() - before; held > 32<<20 {
		t.Fatalf("a bucket and a lockout of %d keys hold %d MiB", bound, held>>20)
	}
	runtime.KeepAlive(l)
	runtime.KeepAlive(lo)
}

// TestLockedKeySurvivesFlood: eviction under a flood of new addresses
// drops idle keys first, so an attacker cannot lift a lock on a pair by
// spraying distinct addresses until the map is full.
func TestLockedKeySurvivesFlood(t *testing.T) {
	const bound = 1000
	now := time.Now()
	lo := NewLockout(2, time.Hour, time.Hour, bound)
	lo.Fail("victim|10.0.0.1", now)
	lo.Fail("victim|10.0.0.1", now)
	if locked, _ := lo.Locked("victim|10.0.0.1", now); !locked {
		t.Fatal("two failures did not lock")
	}
	// Each flooding address fails once: recent, so not idle, but unlocked.
	for i := range 100 * bound {
		lo.Fail(clientKey(i), now)
	}
	if locked, _ := lo.Locked("victim|10.0.0.1", now); !locked {
		t.Fatal("a flood of distinct addresses lifted the lock")
	}
}

// BenchmarkBytesPerKey reports the heap one client costs in an
// in-process bucket and in the lockout, to size limit_keys.
func BenchmarkBytesPerKey(b *testing.B) {
	const n = 100000
	now := time.Now()
	for range b.N {
		before := heapInUse()
		l := NewLocal(Rate{N: 5, Per: time.Minute}, n)
		for i := range n {
			l.Take(clientKey(i), now)
		}
		mid := heapInUse()
		lo := NewLockout(10, 15*time.Minute, 15*time.Minute, n)
		for i := range n {
			lo.Fail(clientKey(i), now)
		}
		after := heapInUse()
		b.ReportMetric(float64(mid-before)/n, "B/bucket-key")
		b.ReportMetric(float64(after-mid)/n, "B/lockout-key")
		runtime.KeepAlive(l)
		runtime.KeepAlive(lo)
	}
}

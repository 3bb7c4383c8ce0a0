package ratelimit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rate
		ok   bool
	}{
		{"5/1m", Rate{5, time.Minute}, true},
		{"20/1h", Rate{20, time.Hour}, true},
		{"off", Rate{}, true},
		{"0/1m", Rate{}, false},
		{"5", Rate{}, false},
		{"5/10ms", Rate{}, false},
		{"x/1m", Rate{}, false},
		{"-1/1m", Rate{}, false},
	} {
		got, err := ParseRate(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%q: %v %v", tc.in, got, err)
		}
	}
}

func TestLocalBurstThenRefill(t *testing.T) {
	l := NewLocal(Rate{5, time.Minute}, 0)
	now := time.Now()
	for i := 0; i < 5; i++ {
		if ok, _ := l.Take("k", now); !ok {
			t.Fatalf("event %d refused", i)
		}
	}
	ok, wait := l.Take("k", now)
	if ok || wait <= 0 || wait > 12*time.Second {
		t.Fatalf("6th: ok=%v wait=%v (want refused, ~12s)", ok, wait)
	}
	// Refusals do not consume: after the wait one more passes.
	if ok, _ := l.Take("k", now.Add(wait)); !ok {
		t.Fatal("not refilled after the advertised wait")
	}
	// Other keys are independent.
	if ok, _ := l.Take("other", now); !ok {
		t.Fatal("keys share a bucket")
	}
}

func TestLocalOff(t *testing.T) {
	l := NewLocal(Rate{}, 0)
	for i := 0; i < 1000; i++ {
		if ok, _ := l.Take("k", time.Now()); !ok {
			t.Fatal("off limiter refused")
		}
	}
}

func TestLocalBounded(t *testing.T) {
	l := NewLocal(Rate{1, time.Hour}, 100)
	now := time.Now()
	for i := 0; i < 10000; i++ {
		l.Take(fmt.Sprint(i), now)
	}
	if l.Len() > 100 {
		t.Fatalf("%d keys held, bound 100", l.Len())
	}
}

func TestLocalConcurrent(t *testing.T) {
	l := NewLocal(Rate{50, time.Hour}, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if ok, _ := l.Take("k", time.Now()); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if allowed < 50 || allowed > 51 {
		t.Fatalf("%d allowed of a burst of 50", allowed)
	}
}

func TestLockout(t *testing.T) {
	l := NewLockout(3, 15*time.Minute, 15*time.Minute, 0)
	now := time.Now()
	pair := "alice\x00192.0.2.1"
	for i := 0; i < 2; i++ {
		if l.Fail(pair, now) {
			t.Fatal("locked too early")
		}
	}
	// Failures outside the window do not count.
	later := now.Add(16 * time.Minute)
	if l.Fail(pair, later) {
		t.Fatal("old failures counted")
	}
	l.Fail(pair, later)
	if !l.Fail(pair, later) {
		t.Fatal("third failure in the window did not lock")
	}
	if locked, d := l.Locked(pair, later.Add(time.Minute)); !locked || d != 14*time.Minute {
		t.Fatalf("locked=%v for %v", locked, d)
	}
	if locked, _ := l.Locked("alice\x00198.51.100.7", later); locked {
		t.Fatal("another IP's pair is locked: a third party could lock the victim out")
	}
	if locked, _ := l.Locked(pair, later.Add(15*time.Minute)); locked {
		t.Fatal("lock outlived its duration")
	}
	l.Fail(pair, now)
	l.Succeed(pair)
	l.Fail(pair, now)
	if l.Fail(pair, now) {
		t.Fatal("success did not clear failures")
	}
	var off *Lockout
	if off.Fail("x", now) {
		t.Fatal("nil lockout locked")
	}
}

// Package ratelimit slows down credential stuffing and brute force: token
// buckets per key (client IP, identifier) and a lockout per (identifier, IP)
// pair after repeated failures. State lives in bounded in-process maps, so a
// flood of distinct keys cannot exhaust memory.
//
// This is the single-instance limiter; a shared one (Redis) for several
// instances plugs in behind the same Limiter interface.
package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate is "N events per Per", with a burst of N.
type Rate struct {
	N   int
	Per time.Duration
}

// ParseRate reads "5/1m", "20/1h", "3/30s". "off" gives the zero Rate.
func ParseRate(s string) (Rate, error) {
	if s == "off" {
		return Rate{}, nil
	}
	n, per, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want <count>/<duration> such as 5/1m", s)
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 1 {
		return Rate{}, fmt.Errorf("rate %q: count must be a positive integer", s)
	}
	d, err := time.ParseDuration(per)
	if err != nil || d < time.Second {
		return Rate{}, fmt.Errorf("rate %q: duration must be at least 1s (e.g. 1m)", s)
	}
	return Rate{N: count, Per: d}, nil
}

// Off reports whether the rate disables limiting.
func (r Rate) Off() bool { return r.N == 0 }

func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	return fmt.Sprintf("%d/%s", r.N, r.Per)
}

// Limiter answers whether one more event for key is allowed now.
type Limiter interface {
	// Allow consumes one token for key. When refused it returns how long
	// until a token is available. An error means the limiter could not
	// decide (shared store down); callers fail closed.
	Allow(ctx context.Context, key string, now time.Time) (bool, time.Duration, error)
}

// Local is a Limiter of token buckets keyed by string, bounded to max keys.
type Local struct {
	rate  rate.Limit
	burst int
	max   int

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// NewLocal returns a limiter for r holding at most max keys (<= 0: 100000).
// A zero (off) Rate allows everything.
func NewLocal(r Rate, max int) *Local {
	if max <= 0 {
		max = 100000
	}
	l := &Local{burst: r.N, max: max, m: map[string]*rate.Limiter{}}
	if !r.Off() {
		l.rate = rate.Every(r.Per / time.Duration(r.N))
	}
	return l
}

// Allow implements Limiter; a local limiter never fails.
func (l *Local) Allow(_ context.Context, key string, now time.Time) (bool, time.Duration, error) {
	ok, wait := l.Take(key, now)
	return ok, wait, nil
}

// Take consumes one token for key.
func (l *Local) Take(key string, now time.Time) (bool, time.Duration) {
	if l.burst == 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[key]
	if !ok {
		if len(l.m) >= l.max {
			l.evict(now)
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.m[key] = lim
	}
	res := lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// evict drops keys whose bucket has refilled (they carry no state worth
// keeping); if none has, half the map goes, oldest-first being unknowable
// cheaply. Called with mu held.
func (l *Local) evict(now time.Time) {
	for k, lim := range l.m {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < l.max/2 {
			break
		}
		delete(l.m, k)
	}
}

// Len is the number of keys held (for tests and metrics).
func (l *Local) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

package ratelimit

import (
	"sync"
	"time"
)

// Lockout locks a key after Max failures within Window, for Duration. Keys
// are (identifier, client IP) pairs, so a third party elsewhere cannot lock
// a victim out: their failures count against their own pair.
type Lockout struct {
	Max      int
	Window   time.Duration
	Duration time.Duration

	maxKeys int
	mu      sync.Mutex
	m       map[string]*failures
}

type failures struct {
	times       []time.Time // within Window, oldest first
	lockedUntil time.Time
}

// NewLockout returns a lockout; max <= 0 disables it.
func NewLockout(max int, window, duration time.Duration, maxKeys int) *Lockout {
	if maxKeys <= 0 {
		maxKeys = 100000
	}
	return &Lockout{Max: max, Window: window, Duration: duration, maxKeys: maxKeys, m: map[string]*failures{}}
}

// Locked reports whether key is locked at now and until when.
func (l *Lockout) Locked(key string, now time.Time) (bool, time.Duration) {
	if l == nil || l.Max <= 0 {
		return false, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[key]
	if f == nil || !now.Before(f.lockedUntil) {
		return false, 0
	}
	return true, f.lockedUntil.Sub(now)
}

// Fail records a failure and reports whether it locked the key.
func (l *Lockout) Fail(key string, now time.Time) bool {
	if l == nil || l.Max <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.entry(key, now)
	cut := 0
	for cut < len(f.times) && now.Sub(f.times[cut]) >= l.Window {
		cut++
	}
	f.times = append(f.times[cut:], now)
	if len(f.times) >= l.Max {
		f.lockedUntil = now.Add(l.Duration)
		f.times = f.times[:0]
		return true
	}
	return false
}

// entry returns key's failures, made (after evicting if the map is full)
// when there are none. The caller holds l.mu.
func (l *Lockout) entry(key string, now time.Time) *failures {
	f := l.m[key]
	if f == nil {
		if len(l.m) >= l.maxKeys {
			l.evict(now)
		}
		f = &failures{}
		l.m[key] = f
	}
	return f
}

// Succeed clears the key's failures (a successful login from that pair).
func (l *Lockout) Succeed(key string) {
	if l == nil || l.Max <= 0 {
		return
	}
	l.mu.Lock()
	delete(l.m, key)
	l.mu.Unlock()
}

// Unlock clears a key (operator action).
func (l *Lockout) Unlock(key string) { l.Succeed(key) }

// evict drops entries that are neither locked nor hold a recent failure;
// if that is not enough, unlocked entries next, and locked ones only when
// nothing else is left: a flood of distinct addresses, each with a recent
// failure, must not push a locked pair out and so lift its lock.
func (l *Lockout) evict(now time.Time) {
	for k, f := range l.m {
		if !now.Before(f.lockedUntil) && (len(f.times) == 0 || now.Sub(f.times[len(f.times)-1]) >= l.Window) {
			delete(l.m, k)
		}
	}
	for k, f := range l.m {
		if len(l.m) < l.maxKeys/2 {
			return
		}
		if !now.Before(f.lockedUntil) {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < l.maxKeys/2 {
			break
		}
		delete(l.m, k)
	}
}

// Len is the number of keys held (for tests and metrics).
func (l *Lockout) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

package memory

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/caddyauth/gateway/store"
)

var (
	_ store.SettingsStore = (*Store)(nil)
	_ store.LockoutStore  = (*Store)(nil)
)

// settingsState holds settings and lockouts under their own lock; the zero
// value is ready.
type settingsState struct {
	mu       sync.Mutex
	values   map[string]string
	lockouts map[[2]string]*lockout
}

type lockout struct {
	failures    int
	windowStart time.Time
	lockedUntil time.Time
	expires     time.Time
}

// Settings returns every setting whose name starts with prefix.
func (m *Store) Settings(_ context.Context, prefix string) (map[string]string, error) {
	st := &m.settings
	st.mu.Lock()
	defer st.mu.Unlock()
	out := map[string]string{}
	for k, v := range st.values {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out, nil
}

// SetSetting writes name = value.
func (m *Store) SetSetting(_ context.Context, name, value string, _ time.Time) error {
	st := &m.settings
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.values == nil {
		st.values = map[string]string{}
	}
	st.values[name] = value
	return nil
}

// lockoutEntry returns the pair's lockout, made with its window starting at
// now (fresh) when there is none. The caller holds st.mu.
func (st *settingsState) lockoutEntry(identifier, ip string, now time.Time) (l *lockout, fresh bool) {
	if st.lockouts == nil {
		st.lockouts = map[[2]string]*lockout{}
	}
	k := [2]string{identifier, ip}
	if l = st.lockouts[k]; l == nil {
		l = &lockout{windowStart: now}
		st.lockouts[k] = l
		fresh = true
	}
	return l, fresh
}

// LockoutFail records a failure; the one reaching p.Max locks the pair.
func (m *Store) LockoutFail(_ context.Context, identifier, ip string, now time.Time, p store.LockoutPolicy) (bool, error) {
	if p.Max <= 0 {
		return false, nil
	}
	st := &m.settings
	st.mu.Lock()
	defer st.mu.Unlock()
	l, _ := st.lockoutEntry(identifier, ip, now)
	if !l.windowStart.After(now.Add(-p.Window)) {
		l.failures, l.windowStart = 0, now
	}
	l.failures++
	l.expires = now.Add(p.Window)
	if l.lockedUntil.After(l.expires) {
		l.expires = l.lockedUntil
	}
	if l.failures < p.Max {
		return false, nil
	}
	l.failures, l.windowStart, l.lockedUntil = 0, now, now.Add(p.Duration)
	if l.lockedUntil.After(l.expires) {
		l.expires = l.lockedUntil
	}
	return true, nil
}

// LockedUntil returns the end of the pair's lock, zero when not locked.
func (m *Store) LockedUntil(_ context.Context, identifier, ip string, now time.Time) (time.Time, error) {
	st := &m.settings
	st.mu.Lock()
	defer st.mu.Unlock()
	if l := st.lockouts[[2]string{identifier, ip}]; l != nil && l.lockedUntil.After(now) {
		return l.lockedUntil, nil
	}
	return time.Time{}, nil
}

// LockoutClear forgets the pair.
func (m *Store) LockoutClear(_ context.Context, identifier, ip string) error {
	st := &m.settings
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.lockouts, [2]string{identifier, ip})
	return nil
}

// LockoutClearIdentifier forgets the identifier on every address.
func (m *Store) LockoutClearIdentifier(_ context.Context, identifier string, now time.Time) (int, error) {
	st := &m.settings
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for k, l := range st.lockouts {
		if k[0] == identifier {
			if l.lockedUntil.After(now) {
				n++
			}
			delete(st.lockouts, k)
		}
	}
	return n, nil
}

// PurgeLockouts deletes pairs with nothing left to remember.
func (m *Store) PurgeLockouts(_ context.Context, now time.Time) (int, error) {
	st := &m.settings
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for k, l := range st.lockouts {
		if !l.expires.After(now) {
			delete(st.lockouts, k)
			n++
		}
	}
	return n, nil
}

package store

import (
	"context"
	"time"
)

// SettingsStore keeps small operator switches (the auth-method switch) in
// the database every instance shares, so a change made by one instance or
// by the CLI is seen by all of them.
type SettingsStore interface {
	// Settings returns every setting whose name starts with prefix.
	Settings(ctx context.Context, prefix string) (map[string]string, error)
	// SetSetting writes name = value (insert or replace).
	SetSetting(ctx context.Context, name, value string, at time.Time) error
}

// LockoutPolicy: Max failures within Window lock an (identifier, IP) pair
// for Duration. Windows are fixed (they start at the first failure), which
// a single atomic upsert can keep in any backend.
type LockoutPolicy struct {
	Max      int
	Window   time.Duration
	Duration time.Duration
}

// LockoutStore keeps login failures per (identifier, client IP) pair in a
// place every instance shares, so a lock holds on all of them and an
// operator (admin API, CLI) can lift it.
type LockoutStore interface {
	// LockoutFail records a failure of the pair at now and reports whether
	// it locked the pair (exactly one of racing callers sees true).
	LockoutFail(ctx context.Context, identifier, ip string, now time.Time, p LockoutPolicy) (bool, error)
	// LockedUntil returns when the pair's lock ends; the zero time when it
	// is not locked at now.
	LockedUntil(ctx context.Context, identifier, ip string, now time.Time) (time.Time, error)
	// LockoutClear forgets the pair (a successful login from it).
	LockoutClear(ctx context.Context, identifier, ip string) error
	// LockoutReserve counts one attempt of the pair as a failure before
	// it is checked, atomically: of racing callers at most p.Max get OK
	// per window, and the one that takes the last locks the pair.
	LockoutReserve(ctx context.Context, identifier, ip string, now time.Time, p LockoutPolicy) (LockoutReservation, error)
	// LockoutRelease refunds a reservation whose check never ran to a
	// verdict (the request failed); a lock it set is lifted.
	LockoutRelease(ctx context.Context, identifier, ip string, r LockoutReservation, p LockoutPolicy) error
	// LockoutClearIdentifier forgets the identifier on every address and
	// returns how many pairs were locked at now.
	LockoutClearIdentifier(ctx context.Context, identifier string, now time.Time) (int, error)
	// PurgeLockouts deletes pairs with neither a lock nor a failure window
	// left at now.
	PurgeLockouts(ctx context.Context, now time.Time) (int, error)
}

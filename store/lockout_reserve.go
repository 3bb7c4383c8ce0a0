package store

import "time"

// LockoutReservation is one credential check taken from a pair's budget
// before the check runs (issue 9 #3): counting it first is what bounds
// concurrent guesses, since racing requests cannot all see "not locked"
// and check their passwords before any failure is written.
type LockoutReservation struct {
	// OK: the check may run. false: the pair is locked until LockedUntil.
	OK bool
	// Locks: this was the last check of the window; the pair is locked
	// until LockedUntil unless the check succeeds (LockoutClear) or is
	// released.
	Locks       bool
	LockedUntil time.Time
	// WindowStart names the window the reservation was counted in, so a
	// release never refunds a later window.
	WindowStart time.Time
}

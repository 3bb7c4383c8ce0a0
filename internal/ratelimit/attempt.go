package ratelimit

import (
	"context"
	"time"

	"github.com/caddyauth/gateway/store"
)

// releaseTimeout bounds a refund made after the request's own context
// ended (the client went away): the refund must still reach the store.
const releaseTimeout = 5 * time.Second

// Attempt is one credential check taken from an (identifier, address)
// pair's lockout budget before the check runs (Locker.Reserve). It is
// counted as a failure from the start, so however many requests race,
// at most the lockout's Max checks run per window (issue 9 #3). End it
// with exactly one of Failed (the check said no: the count stays),
// Succeeded (the pair is cleared) or Release (no verdict: refunded);
// Release after either of the others does nothing, so callers defer it.
type Attempt struct {
	l          reserver
	identifier string
	ip         string
	r          store.LockoutReservation
	done       bool
}

// reserver is what a Locker needs to end an Attempt.
type reserver interface {
	release(ctx context.Context, identifier, ip string, r store.LockoutReservation) error
	Succeed(ctx context.Context, identifier, ip string) error
}

// Failed ends the attempt as a failed check, which stays counted, and
// reports whether it was the pair's last: the pair is now locked.
func (a *Attempt) Failed() bool {
	if a == nil || a.done {
		return false
	}
	a.done = true
	return a.r.Locks
}

// Succeeded ends the attempt as a passed check and clears the pair.
func (a *Attempt) Succeeded(ctx context.Context) error {
	if a == nil || a.done {
		return nil
	}
	a.done = true
	return a.l.Succeed(ctx, a.identifier, a.ip)
}

// Release refunds the attempt unless it already ended: for a check that
// never reached a verdict (a store error, a client gone while it waited
// for a hashing slot), so the pair is not charged, nor left locked, for
// a guess nobody got an answer to. It runs even when ctx is done.
func (a *Attempt) Release(ctx context.Context) error {
	if a == nil || a.done {
		return nil
	}
	a.done = true
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	return a.l.release(ctx, a.identifier, a.ip, a.r)
}

package flows

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/store"
)

// adminAnyAddress is the lockout "address" of an admin account's
// account-wide failure budget (failures from every address count).
const adminAnyAddress = "any-address"

// checkAttempt is one password check reserved from every lockout that
// applies to the account (see ratelimit.Attempt): the pair's, and for an
// admin-group account the floor that `rate_limit off` and `lockout off`
// leave in place.
type checkAttempt struct{ parts []*ratelimit.Attempt }

// reserveCheck takes one check for identifier from addr. A nil attempt
// means locked, for wait.
func (s *Service) reserveCheck(ctx context.Context, u *store.User, identifier, addr string, now time.Time) (*checkAttempt, time.Duration, error) {
	type lock struct {
		l   ratelimit.Locker
		key string
	}
	locks := []lock{{s.limits.lockout, addr}}
	if s.isAdmin(u) {
		if s.limits.adminLock != nil {
			locks = append(locks, lock{s.limits.adminLock, addr})
		}
		if s.limits.adminAccount != nil {
			locks = append(locks, lock{s.limits.adminAccount, adminAnyAddress})
		}
	}
	c := &checkAttempt{}
	for _, k := range locks {
		a, wait, err := k.l.Reserve(ctx, identifier, k.key, now)
		if err != nil || a == nil {
			_ = c.Release(ctx) // the ones taken are refunded
			return nil, wait, err
		}
		c.parts = append(c.parts, a)
	}
	return c, 0, nil
}

// isAdmin reports whether u is in the admin group.
func (s *Service) isAdmin(u *store.User) bool {
	return u != nil && slices.Contains(u.Groups, s.cfg.AdminGroup)
}

// Failed ends the check as failed and reports whether it locked anything.
func (c *checkAttempt) Failed() bool {
	locked := false
	for _, a := range c.parts {
		locked = a.Failed() || locked
	}
	return locked
}

// Succeeded ends the check as passed: every lockout clears.
func (c *checkAttempt) Succeeded(ctx context.Context) error {
	var errs []error
	for _, a := range c.parts {
		errs = append(errs, a.Succeeded(ctx))
	}
	return errors.Join(errs...)
}

// Release refunds a check that reached no verdict.
func (c *checkAttempt) Release(ctx context.Context) error {
	var errs []error
	for _, a := range c.parts {
		errs = append(errs, a.Release(ctx))
	}
	return errors.Join(errs...)
}

// unlockAdminFloor lifts the admin floor's locks of identifier (the
// shared store holds them with the rest; the in-process ones live apart).
func (s *Service) unlockAdminFloor(ctx context.Context, identifier string) (int, error) {
	n := 0
	for _, l := range []ratelimit.Locker{s.limits.adminLock, s.limits.adminAccount} {
		if l == nil {
			continue
		}
		k, err := l.UnlockIdentifier(ctx, identifier, s.cfg.Now())
		if err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

package flows

import (
	"context"
	"errors"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/store"
)

// Refusals of Approve.
var (
	// ErrNotAwaitingApproval: the account is not a verified registration
	// waiting for an administrator.
	ErrNotAwaitingApproval = errors.New("accounts: the account is not waiting for approval")
	// ErrEmailUnverified: the registration's email is not verified yet.
	ErrEmailUnverified = errors.New("accounts: the account's email address is not verified yet")
)

// Approve lets a registered, verified account in (`registration {
// approval }`): it becomes active and passes protect.
func (a *Accounts) Approve(ctx context.Context, by Actor, u *store.User) error {
	switch u.Status {
	case store.StatusApproval:
	case store.StatusPending:
		return ErrEmailUnverified
	default:
		return ErrNotAwaitingApproval
	}
	u.Status, u.UpdatedAt = store.StatusActive, a.Now()
	if err := a.Users.UpdateUser(ctx, u); err != nil {
		return err
	}
	a.record(ctx, by, audit.Event{Type: audit.UserApproved, UserID: u.ID, Email: u.Email})
	return nil
}

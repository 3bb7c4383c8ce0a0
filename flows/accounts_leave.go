package flows

import (
	"context"
	"errors"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/store"
)

// Leave is the user deleting their own account (POST /auth/account/delete).
// Delete refuses self on purpose (an admin must not lock everyone out by
// accident); here the caller has already proven, again, that they are u
// (account_delete.go), so the same steps run with the actor "self": every
// session ends on every instance first, then the user row goes and with it
// what hangs off it (identities, factors, trusted devices, one-time tokens,
// API keys, queued mail: the stores cascade), then the lockout entries of
// the email. A failure to revoke deletes nothing; a failure to delete
// leaves the account, signed out everywhere. The audit records about u
// stay: they are links of the chain (docs/security.md).
func (a *Accounts) Leave(ctx context.Context, by Actor, u *store.User) (int, error) {
	by.ID = ActorSelf
	n, err := a.Sessions.RevokeUser(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	if err := a.Users.DeleteUser(ctx, u.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return n, err
	}
	_, lerr := a.Lockouts.Unlock(ctx, u.Email)
	d := sessionsDetail(n)
	d["via"] = "self_service"
	a.record(ctx, by, audit.Event{Type: audit.UserDeleted, UserID: u.ID, Email: u.Email, Detail: d})
	if lerr != nil {
		return n, &IncompleteError{ErrLockoutNotCleared, lerr}
	}
	return n, nil
}

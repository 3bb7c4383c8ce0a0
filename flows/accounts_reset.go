package flows

import (
	"context"
	"strconv"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/store"
)

// ResetPassword stores hash (a password already judged and hashed) for a
// user who proved control of their email or phone with a reset grant,
// then ends every session of the user on every instance, forgets the
// remembered devices and lifts the login lockouts of the account, and
// records password.reset. The second factors stay: the next sign-in is
// challenged as before. It reports how many sessions ended; a failed
// follow-up step comes back as IncompleteError (the reset stands, and the
// sessions die by PasswordChangedAt anyway).
func (a *Accounts) ResetPassword(ctx context.Context, by Actor, u *store.User, hash string) (int, error) {
	now := a.Now()
	if err := a.Users.ChangePassword(ctx, u.ID, hash, now); err != nil {
		return 0, err
	}
	u.PasswordHash, u.UpdatedAt, u.PasswordChangedAt = hash, now, now
	n, rerr := a.Sessions.RevokeUser(ctx, u.ID)
	a.record(ctx, by, audit.Event{
		Type: audit.PasswordReset, UserID: u.ID, Email: u.Email,
		Detail: map[string]string{"via": by.ID, "sessions_ended": strconv.Itoa(n)},
	})
	if rerr != nil {
		return n, &IncompleteError{ErrSessionsNotRevoked, rerr}
	}
	if err := a.MFA.DeleteTrustedDevices(ctx, u.ID); err != nil {
		return n, &IncompleteError{ErrDevicesNotForgotten, err}
	}
	if a.Lockouts != nil {
		if _, err := a.Lockouts.Unlock(ctx, u.Email); err != nil {
			return n, &IncompleteError{ErrLockoutNotCleared, err}
		}
	}
	return n, nil
}

// ActorReset is the actor of a password reset: the user, proven by a
// grant sent to their address.
const ActorReset = "reset"

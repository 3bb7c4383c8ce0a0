package flows

import (
	"context"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/store"
)

// SetPassword sets u's password (after the policy), then ends their
// sessions and forgets their trusted devices, and reports how many
// sessions ended (an operator's reset: the CLI, later the admin API).
func (a *Accounts) SetPassword(ctx context.Context, by Actor, u *store.User, pw string) (int, error) {
	if err := a.CheckPassword(ctx, pw, u.Email, u.Name); err != nil {
		return 0, err
	}
	hash, err := a.Hasher.Hash(ctx, pw)
	if err != nil {
		return 0, err
	}
	if err := a.StorePassword(ctx, by, u, hash, nil); err != nil {
		return 0, err
	}
	n, err := a.Sessions.RevokeUser(ctx, u.ID)
	if err != nil {
		return n, &IncompleteError{ErrSessionsNotRevoked, err}
	}
	if err := a.MFA.DeleteTrustedDevices(ctx, u.ID); err != nil {
		return n, &IncompleteError{ErrDevicesNotForgotten, err}
	}
	return n, nil
}

// StorePassword writes hash, a password already judged and hashed, and
// records who changed it (detail adds to the record). It revokes no
// session: for callers that end them their own way first (change-password
// keeps the caller's own, rotated); others call SetPassword. It does set
// PasswordChangedAt, so every session that started before now is dead at
// its next check even where a revocation fails, and a login that checked
// the old password meanwhile gets no session (session.ErrPasswordChanged).
// Only the password is written: a disable or group change made meanwhile
// stays.
func (a *Accounts) StorePassword(ctx context.Context, by Actor, u *store.User, hash string, detail map[string]string) error {
	return a.storePassword(ctx, by, u, hash, detail, true)
}

// StorePasswordKeepSessions is StorePassword for a change that keeps the
// user's other sessions (change-password with logout_others false, the
// user's explicit choice): PasswordChangedAt stays where it was.
func (a *Accounts) StorePasswordKeepSessions(ctx context.Context, by Actor, u *store.User, hash string, detail map[string]string) error {
	return a.storePassword(ctx, by, u, hash, detail, false)
}

func (a *Accounts) storePassword(ctx context.Context, by Actor, u *store.User, hash string, detail map[string]string, cut bool) error {
	now := a.Now()
	write := a.Users.SetPasswordHash
	if cut {
		write = a.Users.ChangePassword
	}
	if err := write(ctx, u.ID, hash, now); err != nil {
		return err
	}
	u.PasswordHash, u.UpdatedAt = hash, now
	if cut {
		u.PasswordChangedAt, u.MustChangePassword = now, false
	} else if u.MustChangePassword {
		// ChangePassword clears the flag in its write; this path writes
		// the hash only, so it clears the flag itself.
		if err := a.Users.SetMustChangePassword(ctx, u.ID, false); err != nil {
			return err
		}
		u.MustChangePassword = false
	}
	d := map[string]string{"via": by.ID}
	for k, v := range detail {
		d[k] = v
	}
	a.record(ctx, by, audit.Event{Type: audit.PasswordChanged, UserID: u.ID, Email: u.Email, Detail: d})
	return nil
}

package flows

import (
	"context"
	"errors"
	"strconv"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/store"
)

// SetStatus disables (and signs out everywhere) or enables u, and reports
// how many sessions ended. ErrSessionsNotRevoked means the account is
// disabled but its sessions live until their next validation (the manager
// checks the status then).
func (a *Accounts) SetStatus(ctx context.Context, by Actor, u *store.User, status string) (int, error) {
	if status == store.StatusDisabled && u.ID == by.ID {
		return 0, ErrSelf
	}
	u.Status, u.UpdatedAt = status, a.Now()
	if err := a.Users.UpdateUser(ctx, u); err != nil {
		return 0, err
	}
	typ, n, err := audit.UserEnabled, 0, error(nil)
	if status == store.StatusDisabled {
		typ = audit.UserDisabled
		if n, err = a.Sessions.RevokeUser(ctx, u.ID); err != nil {
			err = &IncompleteError{ErrSessionsNotRevoked, err}
		}
	}
	a.record(ctx, by, audit.Event{Type: typ, UserID: u.ID, Email: u.Email, Detail: sessionsDetail(n)})
	return n, err
}

// Delete removes u and everything that hangs off it, and reports how many
// sessions ended. Sessions are revoked first, so caches (and other
// instances) forget them; a failure there deletes nothing.
func (a *Accounts) Delete(ctx context.Context, by Actor, u *store.User) (int, error) {
	if u.ID == by.ID {
		return 0, ErrSelf
	}
	n, err := a.Sessions.RevokeUser(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	if err := a.Users.DeleteUser(ctx, u.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return n, err
	}
	_, lerr := a.Lockouts.Unlock(ctx, u.Email)
	a.record(ctx, by, audit.Event{Type: audit.UserDeleted, UserID: u.ID, Email: u.Email, Detail: sessionsDetail(n)})
	if lerr != nil {
		return n, &IncompleteError{ErrLockoutNotCleared, lerr}
	}
	return n, nil
}

// LogoutAll ends every session of u and reports how many there were.
func (a *Accounts) LogoutAll(ctx context.Context, by Actor, u *store.User) (int, error) {
	n, err := a.Sessions.RevokeUser(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	a.record(ctx, by, audit.Event{Type: audit.LogoutAll, UserID: u.ID, Email: u.Email, Detail: sessionsDetail(n)})
	return n, nil
}

// Unlock lifts the login lockout of an email on every address and reports
// how many (email, address) pairs were locked. Unknown emails can be
// locked too (the lockout does not reveal who exists); the record names
// the user when there is one.
func (a *Accounts) Unlock(ctx context.Context, by Actor, email string) (int, error) {
	email = NormalizeEmail(email)
	n, err := a.Lockouts.Unlock(ctx, email)
	if err != nil {
		return n, err
	}
	ev := audit.Event{Type: audit.Unlocked, Email: email, Detail: map[string]string{"locked_pairs": strconv.Itoa(n)}}
	if u, err := a.Users.UserByEmail(ctx, email); err == nil {
		ev.UserID = u.ID
	}
	a.record(ctx, by, ev)
	return n, nil
}

// ResetMFA (lost authenticator, compromised account) deletes u's
// authenticators, recovery codes and trusted devices, then ends their
// sessions (each passed MFA with the old factors).
func (a *Accounts) ResetMFA(ctx context.Context, by Actor, u *store.User) error {
	if err := a.resetMFA(ctx, u.ID); err != nil {
		return err
	}
	a.record(ctx, by, audit.Event{Type: audit.MFAReset, UserID: u.ID, Email: u.Email})
	return nil
}

func (a *Accounts) resetMFA(ctx context.Context, userID string) error {
	if err := a.MFA.ResetMFA(ctx, userID); err != nil {
		return err
	}
	_, err := a.Sessions.RevokeUser(ctx, userID)
	return err
}

// ResetMFA is the MFA reset without an audit record (Service.ResetMFA's
// seam); callers that act for someone use Accounts.ResetMFA.
func ResetMFA(ctx context.Context, d Deps, userID string) error {
	m := d.MFA
	if m == nil {
		var ok bool
		if m, ok = d.Users.(store.MFAStore); !ok {
			return errors.New("flows: no MFA store")
		}
	}
	return (&Accounts{MFA: m, Sessions: d.Sessions}).resetMFA(ctx, userID)
}

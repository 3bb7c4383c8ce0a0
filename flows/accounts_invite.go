package flows

import (
	"context"
	"errors"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

// Invitations (issue 11 item 4): an account made without a password, in
// status invited, and a set-password link (a grant, 7 days by default,
// single use) redeemed on the reset page. Inviting again replaces the
// link; an account that is not (or no longer) invited cannot be invited.

// DefaultInvitationTTL is how long an invitation link lives.
const DefaultInvitationTTL = 7 * 24 * time.Hour

const invitationPurpose = "invitation"

// ErrNotInvitable: the email belongs to an account that is not waiting
// for an invitation (it has a password, or is disabled).
var ErrNotInvitable = errors.New("accounts: an account with this email exists and is not invited")

// Invitation is what sending one needs besides the account: where the
// grant goes, the queue, the portal's absolute base URL for the link
// (https://auth.example.com/auth), the lifetime and who invites.
type Invitation struct {
	Grants  store.GrantStore
	Outbox  notify.Queue
	Portal  string
	TTL     time.Duration
	Inviter string // shown in the message; "" for none
}

// Invite creates the invited account (or finds the one invited before)
// and sends it a fresh link, replacing the earlier one. It reports whether
// the account already existed.
func (a *Accounts) Invite(ctx context.Context, by Actor, in NewAccount, inv Invitation) (*store.User, bool, error) {
	in.NoPassword, in.Password = true, ""
	if err := a.Check(&in); err != nil {
		return nil, false, err
	}
	u, err := a.Users.UserByEmail(ctx, in.Email)
	again := err == nil
	switch {
	case again && u.Status != store.StatusInvited:
		return nil, false, ErrNotInvitable
	case errors.Is(err, store.ErrNotFound):
		if u, err = a.Draft(ctx, in); err != nil {
			return nil, false, err
		}
		u.Status = store.StatusInvited
		if err := a.Users.CreateUser(ctx, u); err != nil {
			return nil, false, err
		}
	case err != nil:
		return nil, false, err
	}
	if err := sendInvitation(ctx, u, inv, a.Now()); err != nil {
		return u, again, err
	}
	a.record(ctx, by, audit.Event{
		Type: audit.UserInvited, UserID: u.ID, Email: u.Email,
		Detail: map[string]string{"via": by.ID, "again": boolWord(again)},
	})
	return u, again, nil
}

// sendInvitation issues u's invitation grant (no code: the link is the
// whole proof) and queues the message.
func sendInvitation(ctx context.Context, u *store.User, inv Invitation, now time.Time) error {
	if inv.Grants == nil || inv.Outbox == nil {
		return errNoGrants
	}
	ttl := inv.TTL
	if ttl <= 0 {
		ttl = DefaultInvitationTTL
	}
	tok := keys.NewToken()
	if err := inv.Grants.IssueToken(ctx, &store.OneTimeToken{
		Hash: keys.HashToken(tok), Purpose: invitationPurpose,
		UserID: u.ID, ExpiresAt: now.Add(ttl),
	}); err != nil {
		return err
	}
	return inv.Outbox.Enqueue(context.WithoutCancel(ctx), notify.Message{
		Kind: notify.KindInvitation, Channel: notify.Email, To: u.Email, UserID: u.ID,
		Data: map[string]string{
			notify.DataLink: inv.Portal + "/reset-password?token=" + tok, notify.DataName: u.Name,
			notify.DataInviter: inv.Inviter, notify.DataExpires: humanDuration(ttl),
		},
	})
}

// AcceptInvitation sets the first password of an invited account (hash
// already judged) and makes it active. The email counts as verified: the
// link reached it.
func (a *Accounts) AcceptInvitation(ctx context.Context, by Actor, u *store.User, hash string) error {
	now := a.Now()
	if err := a.Users.ChangePassword(ctx, u.ID, hash, now); err != nil {
		return err
	}
	u.PasswordHash, u.UpdatedAt, u.PasswordChangedAt = hash, now, now
	u.Status, u.MustChangePassword, u.EmailVerifiedAt = store.StatusActive, false, now
	if err := a.Users.UpdateUser(ctx, u); err != nil {
		return err
	}
	a.record(ctx, by, audit.Event{Type: audit.InvitationAccepted, UserID: u.ID, Email: u.Email, Detail: map[string]string{"via": by.ID}})
	return nil
}

func boolWord(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// invitationKind is the invitation grant as the reset page redeems it.
func invitationKind() grantKind {
	return grantKind{Purpose: invitationPurpose, TTL: DefaultInvitationTTL}
}

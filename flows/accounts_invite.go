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
// the account already existed. Where one database keeps the accounts, the
// grants and the outbox (store.InvitationStore), the account, its link and
// its message are written in one transaction: a process killed in the
// middle leaves all of them or none, never an invited account whose link
// was never queued.
func (a *Accounts) Invite(ctx context.Context, by Actor, in NewAccount, inv Invitation) (*store.User, bool, error) {
	in.NoPassword, in.Password = true, ""
	if err := a.Check(ctx, &in); err != nil {
		return nil, false, err
	}
	u, err := a.Users.UserByEmail(ctx, in.Email)
	again := err == nil
	switch {
	case again && u.Status != store.StatusInvited:
		return nil, false, ErrNotInvitable
	case errors.Is(err, store.ErrNotFound):
		if u, err = a.draft(ctx, in); err != nil {
			return nil, false, err
		}
		u.Status = store.StatusInvited
	case err != nil:
		return nil, false, err
	}
	var create *store.User
	if !again {
		create = u
	}
	if err := a.storeInvitation(ctx, create, u, inv); err != nil {
		if again {
			return u, again, err
		}
		return nil, false, err
	}
	a.record(ctx, by, audit.Event{
		Type: audit.UserInvited, UserID: u.ID, Email: u.Email,
		Detail: map[string]string{"via": by.ID, "again": boolWord(again)},
	})
	return u, again, nil
}

// preparingQueue is a queue that can hand over a sealed message for the
// caller's own transaction (*notify.Outbox).
type preparingQueue interface {
	Prepare(m notify.Message) (*store.OutboxMessage, error)
	Wake()
}

// storeInvitation stores the account create (nil: u exists), issues u's
// invitation grant (no code: the link is the whole proof) and queues the
// message: in one transaction when the store can, else step by step.
func (a *Accounts) storeInvitation(ctx context.Context, create, u *store.User, inv Invitation) error {
	if inv.Grants == nil || inv.Outbox == nil {
		return errNoGrants
	}
	ttl := inv.TTL
	if ttl <= 0 {
		ttl = DefaultInvitationTTL
	}
	now := a.Now()
	tok := keys.NewToken()
	grant := &store.OneTimeToken{
		Hash: keys.HashToken(tok), Purpose: invitationPurpose,
		UserID: u.ID, ExpiresAt: now.Add(ttl),
	}
	msg := notify.Message{
		Kind: notify.KindInvitation, Channel: notify.Email, To: u.Email, UserID: u.ID,
		Data: map[string]string{
			notify.DataLink: inv.Portal + "/reset-password?token=" + tok, notify.DataName: u.Name,
			notify.DataInviter: inv.Inviter, notify.DataExpires: humanDuration(ttl),
		},
	}
	st, atomic := a.Users.(store.InvitationStore)
	q, prepares := inv.Outbox.(preparingQueue)
	// One transaction only when the one store holds the grants too.
	if atomic && prepares && any(inv.Grants) == any(a.Users) {
		row, err := q.Prepare(msg)
		if err != nil {
			return err
		}
		if err := st.StoreInvitation(context.WithoutCancel(ctx), create, grant, row); err != nil {
			return err
		}
		q.Wake()
		return nil
	}
	if create != nil {
		if err := a.Users.CreateUser(ctx, create); err != nil {
			return err
		}
	}
	if err := inv.Grants.IssueToken(ctx, grant); err != nil {
		return err
	}
	return inv.Outbox.Enqueue(context.WithoutCancel(ctx), msg)
}

// AcceptInvitation sets the first password of an invited account (hash
// already judged) and makes it active. The email counts as verified: the
// link reached it. The hash and the status go in one write (UpdateUser),
// so a process killed in the middle never leaves an invited account with
// a password; ChangePassword after it stamps PasswordChangedAt (an
// invited account has no session it could end).
func (a *Accounts) AcceptInvitation(ctx context.Context, by Actor, u *store.User, hash string) error {
	now := a.Now()
	u.PasswordHash, u.UpdatedAt, u.PasswordChangedAt = hash, now, now
	u.Status, u.MustChangePassword, u.EmailVerifiedAt = store.StatusActive, false, now
	if err := a.Users.UpdateUser(ctx, u); err != nil {
		return err
	}
	if err := a.Users.ChangePassword(ctx, u.ID, hash, now); err != nil {
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

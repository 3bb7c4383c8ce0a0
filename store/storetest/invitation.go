package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

// InvitationStores is a backend that keeps users, grants and the outbox
// in one database and writes an invitation atomically.
type InvitationStores interface {
	store.InvitationStore
	store.UserStore
	store.GrantStore
	store.OutboxStore
}

// TestInvitationStore runs the conformance suite of
// store.InvitationStore: an invitation is the account, its link and its
// message, all or none (a crash mid-invitation must not leave an invited
// account whose link was never queued).
func TestInvitationStore(t *testing.T, open func(t *testing.T) InvitationStores) {
	ctx := context.Background()
	now := time.Now()
	invited := func(email string) *store.User {
		return &store.User{ID: NewID(), Email: email, Status: store.StatusInvited, CreatedAt: now, UpdatedAt: now}
	}
	link := func(u *store.User) *store.OneTimeToken {
		return &store.OneTimeToken{Hash: NewID(), Purpose: "invitation", UserID: u.ID, ExpiresAt: now.Add(time.Hour)}
	}
	mail := func(u *store.User) *store.OutboxMessage {
		return &store.OutboxMessage{
			ID: NewID(), Kind: "invitation", Channel: "email", Recipient: u.Email, UserID: u.ID,
			Payload: []byte("sealed"), CreatedAt: now, NextAttemptAt: now,
		}
	}
	present := func(t *testing.T, s InvitationStores, u *store.User, g *store.OneTimeToken, m *store.OutboxMessage) {
		t.Helper()
		got, err := s.UserByID(ctx, u.ID)
		must(t, "the account", err)
		if got.Status != store.StatusInvited || got.PasswordHash != "" {
			t.Errorf("account = %+v, want invited without a password", got)
		}
		_, err = s.PeekToken(ctx, g.Hash, g.Purpose, now)
		must(t, "the link", err)
		msg, err := s.OutboxMessage(ctx, m.ID)
		must(t, "the message", err)
		if msg.Status != store.OutboxPending || msg.UserID != u.ID {
			t.Errorf("message = %+v, want pending for %s", msg, u.ID)
		}
	}
	absent := func(t *testing.T, s InvitationStores, u *store.User, g *store.OneTimeToken, m *store.OutboxMessage) {
		t.Helper()
		if u != nil {
			_, err := s.UserByID(ctx, u.ID)
			wantErr(t, "the account of a failed invitation", err, store.ErrNotFound)
		}
		_, err := s.PeekToken(ctx, g.Hash, g.Purpose, now)
		wantErr(t, "the link of a failed invitation", err, store.ErrNotFound)
		_, err = s.OutboxMessage(ctx, m.ID)
		wantErr(t, "the message of a failed invitation", err, store.ErrNotFound)
	}

	t.Run("AllThree", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		u := invited("ivy@example.com")
		g, m := link(u), mail(u)
		must(t, "store invitation", s.StoreInvitation(ctx, u, g, m))
		present(t, s, u, g, m)
	})

	t.Run("NoneWhenTheMessageFails", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		first := invited("ivy@example.com")
		g1, m1 := link(first), mail(first)
		must(t, "first invitation", s.StoreInvitation(ctx, first, g1, m1))
		// The message id is taken: the last step fails, so the account
		// and the link made before it in the same call must not stay.
		u := invited("jo@example.com")
		g, m := link(u), mail(u)
		m.ID = m1.ID
		wantErr(t, "message id taken", s.StoreInvitation(ctx, u, g, m), store.ErrConflict)
		absent(t, s, u, g, &store.OutboxMessage{ID: NewID()})
		_, err := s.UserByEmail(ctx, "jo@example.com")
		wantErr(t, "account by email", err, store.ErrNotFound)
	})

	t.Run("NoneWhenTheEmailIsTaken", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		first := invited("ivy@example.com")
		must(t, "first invitation", s.StoreInvitation(ctx, first, link(first), mail(first)))
		u := invited("IVY@example.com")
		g, m := link(u), mail(u)
		wantErr(t, "email taken", s.StoreInvitation(ctx, u, g, m), store.ErrConflict)
		absent(t, s, u, g, m)
	})

	t.Run("AgainReplacesTheLink", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		u := invited("ivy@example.com")
		g1, m1 := link(u), mail(u)
		must(t, "first invitation", s.StoreInvitation(ctx, u, g1, m1))
		g2, m2 := link(u), mail(u)
		must(t, "invitation again", s.StoreInvitation(ctx, nil, g2, m2))
		present(t, s, u, g2, m2)
		_, err := s.PeekToken(ctx, g1.Hash, g1.Purpose, now)
		wantErr(t, "the replaced link", err, store.ErrNotFound)
		// Again, failing: the link it would replace stays.
		g3, m3 := link(u), mail(u)
		m3.ID = m2.ID
		wantErr(t, "again with a taken message id", s.StoreInvitation(ctx, nil, g3, m3), store.ErrConflict)
		_, err = s.PeekToken(ctx, g2.Hash, g2.Purpose, now)
		must(t, "the link a failed invitation would have replaced", err)
		_, err = s.PeekToken(ctx, g3.Hash, g3.Purpose, now)
		wantErr(t, "the failed invitation's link", err, store.ErrNotFound)
	})
}

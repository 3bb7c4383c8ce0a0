package flows

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/store"
	sqlstore "github.com/caddyauth/gateway/store/sql"
)

// collidingQueue prepares rows whose id is taken, so the last write of an
// invitation fails, as if the process died just before it.
type collidingQueue struct {
	*notify.Outbox
	id string
}

func (q collidingQueue) Prepare(m notify.Message) (*store.OutboxMessage, error) {
	row, err := q.Outbox.Prepare(m)
	if err == nil {
		row.ID = q.id
	}
	return row, err
}

// TestInviteIsAtomic (issue 14 item 5, found by TestFaultKill9): on a
// database that keeps accounts, grants and the outbox, an invitation is
// one transaction. When its message cannot be stored, no invited account
// is left behind without its link and message (the kill -9 test found
// such accounts: the old code created the account, then the link, then
// queued the mail, each on its own); when it can, all three are there and
// the local worker is woken.
func TestInviteIsAtomic(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	sealer, err := notify.NewSealer(make([]byte, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	outbox := notify.NewOutbox(db, sealer, notify.Email)
	woken := 0
	outbox.OnEnqueue(func() { woken++ })
	acc := &Accounts{Users: db, MFA: db, Hasher: password.New(fastHash, 1), Audit: &recorder{}, Now: time.Now}
	by := Actor{ID: ActorCLI}
	inv := func(q notify.Queue) Invitation {
		return Invitation{Grants: db, Outbox: q, Portal: "https://auth.example.test/auth"}
	}

	// A message already queued, whose id the colliding queue reuses.
	if err := outbox.Enqueue(ctx, notify.Message{Kind: notify.KindPasswordChanged, Channel: notify.Email, To: "x@example.test"}); err != nil {
		t.Fatal(err)
	}
	queued, err := db.ListOutbox(ctx, "", 10)
	if err != nil || len(queued) != 1 {
		t.Fatalf("outbox %v %v", queued, err)
	}
	woken = 0
	if _, _, err := acc.Invite(ctx, by, NewAccount{Email: "nina@example.test"}, inv(collidingQueue{outbox, queued[0].ID})); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("invite whose message cannot be stored: %v, want a conflict", err)
	}
	if _, err := db.UserByEmail(ctx, "nina@example.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an invitation whose message failed left its account behind (%v)", err)
	}
	if woken != 0 {
		t.Errorf("the worker was woken %d times for nothing", woken)
	}

	u, again, err := acc.Invite(ctx, by, NewAccount{Email: "nina@example.test", Name: "Nina"}, inv(outbox))
	if err != nil || again {
		t.Fatalf("invite: %v (again %v)", err, again)
	}
	got, err := db.UserByEmail(ctx, "nina@example.test")
	if err != nil || got.Status != store.StatusInvited || got.PasswordHash != "" {
		t.Fatalf("account %+v %v", got, err)
	}
	msgs, err := db.ListOutbox(ctx, store.OutboxPending, 10)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range msgs {
		found = found || (m.Kind == notify.KindInvitation && m.UserID == u.ID)
	}
	if !found || woken != 1 {
		t.Errorf("invitation message queued %v, worker woken %d times; want queued, woken once", found, woken)
	}
	if _, again, err := acc.Invite(ctx, by, NewAccount{Email: "nina@example.test"}, inv(outbox)); err != nil || !again || woken != 2 {
		t.Fatalf("invite again: %v (again %v, woken %d)", err, again, woken)
	}
}

// failingChange is a user store whose ChangePassword fails: the process
// "dies" after AcceptInvitation's first write.
type failingChange struct{ store.UserStore }

func (failingChange) ChangePassword(context.Context, string, string, time.Time) error {
	return errors.New("killed")
}

// TestAcceptInvitationOneWrite: accepting an invitation writes the
// password and the active status together, so stopping after the first
// write leaves an active account with its password, never an invited one
// with a password (which nobody could sign in to or invite again cleanly).
func TestAcceptInvitationOneWrite(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	u := &store.User{ID: "u1", Email: "nina@example.test", Status: store.StatusInvited}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	acc := &Accounts{Users: failingChange{db}, Audit: &recorder{}, Now: time.Now}
	if err := acc.AcceptInvitation(ctx, Actor{ID: ActorReset}, u, "$argon2id$fake"); err == nil {
		t.Fatal("the failing second write was not reported")
	}
	got, err := db.UserByID(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusActive || got.PasswordHash != "$argon2id$fake" || got.EmailVerifiedAt.IsZero() {
		t.Fatalf("after the first write: status %s, hash %q, email verified %v; want active with its hash", got.Status, got.PasswordHash, got.EmailVerifiedAt)
	}
}

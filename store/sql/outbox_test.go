package sqlstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

// TestOutboxCommitIsDurable: Enqueue promises the message is durable when it
// returns. In WAL mode that needs synchronous=FULL (2): each commit syncs the
// WAL; NORMAL could lose the last commits on power loss.
func TestOutboxCommitIsDurable(t *testing.T) {
	db := openTemp(t)
	var v int
	if err := db.db.QueryRowContext(context.Background(), `PRAGMA synchronous`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v < 2 {
		t.Fatalf("PRAGMA synchronous = %d, want FULL (2) or EXTRA (3)", v)
	}
}

// TestOutboxCascadesWithUser: deleting a user drops their queued messages
// (address and all); a message for a user that does not exist is refused.
func TestOutboxCascadesWithUser(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	adder(db)(t, "u1")
	now := time.Now()
	for _, m := range []*store.OutboxMessage{
		{ID: "mine", Kind: "new_sign_in", Channel: "email", Recipient: "u1@example.com", UserID: "u1", Payload: []byte{1}, CreatedAt: now},
		{ID: "nobody", Kind: "invitation", Channel: "email", Recipient: "x@example.com", Payload: []byte{1}, CreatedAt: now},
	} {
		if err := db.EnqueueMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	err := db.EnqueueMessage(ctx, &store.OutboxMessage{
		ID: "ghost", Kind: "new_sign_in", Channel: "email",
		Recipient: "g@example.com", UserID: "ghost", Payload: []byte{1}, CreatedAt: now,
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("enqueue for a missing user: err = %v, want ErrNotFound", err)
	}
	if err := db.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.OutboxMessage(ctx, "mine"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the deleted user's message survived: %v", err)
	}
	if m, err := db.OutboxMessage(ctx, "nobody"); err != nil || m.UserID != "" {
		t.Errorf("a message without a user: %+v %v", m, err)
	}
}

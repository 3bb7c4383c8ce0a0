package sqlstore

import (
	"context"
	"testing"
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

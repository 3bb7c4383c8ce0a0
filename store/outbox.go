package store

import (
	"context"
	"time"
)

// Outbox message states.
const (
	// OutboxPending: waiting for a (first or next) delivery attempt, or
	// leased to a worker that is attempting it now.
	OutboxPending = "pending"
	// OutboxSent: delivered; kept until purged.
	OutboxSent = "sent"
	// OutboxDead: gave up after the last attempt; kept for inspection.
	OutboxDead = "dead"
)

// OutboxMessage is one queued email or SMS. Payload is the sealed
// (encrypted) template data: the store never sees a code or link in clear.
type OutboxMessage struct {
	ID        string
	Kind      string
	Channel   string
	Recipient string
	UserID    string
	Payload   []byte
	Status    string
	// Attempts counts claims: it is incremented when a worker takes the
	// message, so a process that dies mid-send still uses up an attempt
	// (a message that crashes the sender cannot loop forever).
	Attempts int
	// NextAttemptAt is when the message may be claimed (again).
	NextAttemptAt time.Time
	// LeaseOwner and LeaseUntil: while LeaseUntil is in the future, the
	// worker that holds LeaseOwner owns the message and nobody else may
	// claim it. An expired lease makes the message claimable again.
	LeaseOwner string
	LeaseUntil time.Time
	LastError  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// OutboxStore is the durable queue behind notify. Every method that changes
// a claimed message takes the lease owner and fails with ErrNotFound when the
// caller no longer holds the lease (it expired and another worker took the
// message), so a slow worker cannot overwrite the newer attempt's outcome.
type OutboxStore interface {
	// EnqueueMessage stores m as pending and due at m.NextAttemptAt (zero:
	// now). It returns only once the message is durable. ErrConflict if
	// the id is taken. Backends that keep users may refuse a UserID that
	// names no user (ErrNotFound) and drop a user's messages with the user.
	EnqueueMessage(ctx context.Context, m *OutboxMessage) error
	// ClaimMessages leases up to limit pending messages that are due at now
	// and not leased (or whose lease expired) to owner until now+lease,
	// increments their Attempts and returns them, oldest due first. Two
	// concurrent claimers never get the same message while its lease runs.
	ClaimMessages(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*OutboxMessage, error)
	// CompleteMessage marks a claimed message sent.
	CompleteMessage(ctx context.Context, id, owner string, now time.Time) error
	// RetryMessage releases a claimed message after a failed attempt: it
	// stays pending and becomes due at next.
	RetryMessage(ctx context.Context, id, owner string, now, next time.Time, lastErr string) error
	// FailMessage marks a claimed message dead (no more attempts).
	FailMessage(ctx context.Context, id, owner string, now time.Time, lastErr string) error
	// OutboxMessage returns one message by id.
	OutboxMessage(ctx context.Context, id string) (*OutboxMessage, error)
	// ListOutbox returns messages in status (all when empty), newest first,
	// at most limit.
	ListOutbox(ctx context.Context, status string, limit int) ([]*OutboxMessage, error)
	// CountPendingMessages is the queue depth (pending, leased or not).
	CountPendingMessages(ctx context.Context) (int, error)
	// PurgeOutbox deletes sent and dead messages last updated before
	// before and reports how many.
	PurgeOutbox(ctx context.Context, before time.Time) (int, error)
}

package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/caddyauth/gateway/store"
)

// Outbox is an in-process store.OutboxStore for tests and development:
// nothing survives a restart, and messages do not cascade with users (the
// SQL backend's rows do). It has its own lock, so a busy queue does not
// contend with sessions.
type Outbox struct {
	mu   sync.Mutex
	msgs map[string]*store.OutboxMessage
}

var _ store.OutboxStore = (*Outbox)(nil)

// NewOutbox returns an empty outbox.
func NewOutbox() *Outbox { return &Outbox{msgs: map[string]*store.OutboxMessage{}} }

func copyMsg(m *store.OutboxMessage) *store.OutboxMessage {
	c := *m
	c.Payload = slices.Clone(m.Payload)
	return &c
}

// EnqueueMessage stores a copy of m as pending.
func (o *Outbox) EnqueueMessage(_ context.Context, m *store.OutboxMessage) error {
	if m.ID == "" {
		return fmt.Errorf("memory: enqueue message: empty id")
	}
	c := copyMsg(m)
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now()
	}
	if c.NextAttemptAt.IsZero() {
		c.NextAttemptAt = c.CreatedAt
	}
	c.UpdatedAt = c.CreatedAt
	c.Status, c.Attempts, c.LeaseOwner, c.LeaseUntil, c.LastError = store.OutboxPending, 0, "", time.Time{}, ""
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.msgs[c.ID]; ok {
		return fmt.Errorf("memory: enqueue message: %w", store.ErrConflict)
	}
	o.msgs[c.ID] = c
	return nil
}

// ClaimMessages leases due messages under the lock.
func (o *Outbox) ClaimMessages(_ context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*store.OutboxMessage, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var due []*store.OutboxMessage
	for _, m := range o.msgs {
		if m.Status == store.OutboxPending && !m.NextAttemptAt.After(now) && !m.LeaseUntil.After(now) {
			due = append(due, m)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].NextAttemptAt.Equal(due[j].NextAttemptAt) {
			return due[i].NextAttemptAt.Before(due[j].NextAttemptAt)
		}
		return due[i].ID < due[j].ID
	})
	if len(due) > limit {
		due = due[:max(limit, 0)]
	}
	out := make([]*store.OutboxMessage, 0, len(due))
	for _, m := range due {
		m.LeaseOwner, m.LeaseUntil, m.UpdatedAt = owner, now.Add(lease), now
		m.Attempts++
		out = append(out, copyMsg(m))
	}
	return out, nil
}

func (o *Outbox) settle(op, id, owner string, f func(m *store.OutboxMessage)) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	m, ok := o.msgs[id]
	if !ok || m.Status != store.OutboxPending || m.LeaseOwner != owner {
		return fmt.Errorf("memory: %s: lease lost: %w", op, store.ErrNotFound)
	}
	f(m)
	m.LeaseOwner, m.LeaseUntil = "", time.Time{}
	return nil
}

// CompleteMessage marks the message sent.
func (o *Outbox) CompleteMessage(_ context.Context, id, owner string, now time.Time) error {
	return o.settle("complete message", id, owner, func(m *store.OutboxMessage) {
		m.Status, m.LastError, m.UpdatedAt = store.OutboxSent, "", now
	})
}

// RetryMessage puts the message back, due at next.
func (o *Outbox) RetryMessage(_ context.Context, id, owner string, now, next time.Time, lastErr string) error {
	return o.settle("retry message", id, owner, func(m *store.OutboxMessage) {
		m.NextAttemptAt, m.LastError, m.UpdatedAt = next, lastErr, now
	})
}

// FailMessage marks the message dead.
func (o *Outbox) FailMessage(_ context.Context, id, owner string, now time.Time, lastErr string) error {
	return o.settle("fail message", id, owner, func(m *store.OutboxMessage) {
		m.Status, m.LastError, m.UpdatedAt = store.OutboxDead, lastErr, now
	})
}

// OutboxMessage returns a copy of one message.
func (o *Outbox) OutboxMessage(_ context.Context, id string) (*store.OutboxMessage, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m, ok := o.msgs[id]
	if !ok {
		return nil, fmt.Errorf("memory: get message: %w", store.ErrNotFound)
	}
	return copyMsg(m), nil
}

// ListOutbox lists messages newest first.
func (o *Outbox) ListOutbox(_ context.Context, status string, limit int) ([]*store.OutboxMessage, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*store.OutboxMessage
	for _, m := range o.msgs {
		if status == "" || m.Status == status {
			out = append(out, copyMsg(m))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	if len(out) > limit {
		out = out[:max(limit, 0)]
	}
	return out, nil
}

// CountPendingMessages is the queue depth.
func (o *Outbox) CountPendingMessages(context.Context) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, m := range o.msgs {
		if m.Status == store.OutboxPending {
			n++
		}
	}
	return n, nil
}

// PurgeOutbox deletes old sent and dead messages.
func (o *Outbox) PurgeOutbox(_ context.Context, before time.Time) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for id, m := range o.msgs {
		if m.Status != store.OutboxPending && m.UpdatedAt.Before(before) {
			delete(o.msgs, id)
			n++
		}
	}
	return n, nil
}

package storetest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

const lease = time.Minute

func outboxMsg(id string, due time.Time) *store.OutboxMessage {
	return &store.OutboxMessage{
		ID: id, Kind: "mfa_code", Channel: "email", Recipient: "ada@example.com",
		Payload: []byte{0, 1, 2, 0xff, 'x'}, CreatedAt: due, NextAttemptAt: due,
	}
}

func claimIDs(ms []*store.OutboxMessage) []string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

func wantIDs(t *testing.T, what string, got []*store.OutboxMessage, want ...string) {
	t.Helper()
	g := claimIDs(got)
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Errorf("%s: ids = %v, want %v", what, g, want)
	}
}

// TestOutboxStore runs the outbox conformance suite. open returns a fresh,
// empty outbox and an AddUser for it (SQL rows reference their user); the
// suite passes explicit times, so nothing sleeps.
func TestOutboxStore(t *testing.T, open func(t *testing.T) (store.OutboxStore, AddUser)) {
	ctx := context.Background()
	// Millisecond precision, the finest every backend keeps.
	base := time.UnixMilli(time.Now().UnixMilli()).UTC()

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		o, addUser := open(t)
		addUser(t, "u1")
		m := outboxMsg("m1", base)
		m.UserID = "u1"
		must(t, "enqueue", o.EnqueueMessage(ctx, m))
		got, err := o.OutboxMessage(ctx, "m1")
		must(t, "get", err)
		if got.Kind != m.Kind || got.Channel != m.Channel || got.Recipient != m.Recipient || got.UserID != m.UserID ||
			!bytes.Equal(got.Payload, m.Payload) || got.Status != store.OutboxPending || got.Attempts != 0 ||
			got.LeaseOwner != "" || !got.LeaseUntil.IsZero() {
			t.Errorf("message = %+v, want %+v pending", got, m)
		}
		checkTime(t, "NextAttemptAt", got.NextAttemptAt, base)
		checkTime(t, "CreatedAt", got.CreatedAt, base)
		_, err = o.OutboxMessage(ctx, "nope")
		wantErr(t, "get missing", err, store.ErrNotFound)
		wantErr(t, "duplicate id", o.EnqueueMessage(ctx, outboxMsg("m1", base)), store.ErrConflict)
		n, err := o.CountPendingMessages(ctx)
		must(t, "count", err)
		if n != 1 {
			t.Errorf("pending = %d, want 1", n)
		}
	})

	t.Run("ClaimDueOldestFirstWithLimit", func(t *testing.T) {
		t.Parallel()
		o, _ := open(t)
		must(t, "enqueue", o.EnqueueMessage(ctx, outboxMsg("b", base.Add(-1*time.Second))))
		must(t, "enqueue", o.EnqueueMessage(ctx, outboxMsg("a", base.Add(-2*time.Second))))
		must(t, "enqueue", o.EnqueueMessage(ctx, outboxMsg("c", base)))
		must(t, "enqueue", o.EnqueueMessage(ctx, outboxMsg("later", base.Add(time.Hour))))
		got, err := o.ClaimMessages(ctx, "w1", base, lease, 2)
		must(t, "claim", err)
		wantIDs(t, "first claim", got, "a", "b")
		for _, m := range got {
			if m.Attempts != 1 || m.LeaseOwner != "w1" || !sameMs(m.LeaseUntil, base.Add(lease)) {
				t.Errorf("claimed %s: attempts %d owner %q lease %v", m.ID, m.Attempts, m.LeaseOwner, m.LeaseUntil)
			}
		}
		got, err = o.ClaimMessages(ctx, "w1", base, lease, 10)
		must(t, "claim", err)
		wantIDs(t, "second claim (not yet due stays)", got, "c")
		got, err = o.ClaimMessages(ctx, "w1", base.Add(time.Hour), lease, 0)
		must(t, "claim zero", err)
		wantIDs(t, "limit 0", got)
	})

	t.Run("LeaseExcludesOthersUntilItExpires", func(t *testing.T) {
		t.Parallel()
		o, _ := open(t)
		must(t, "enqueue", o.EnqueueMessage(ctx, outboxMsg("m", base)))
		got, err := o.ClaimMessages(ctx, "dead-worker", base, lease, 10)
		must(t, "claim", err)
		wantIDs(t, "A claims", got, "m")
		got, err = o.ClaimMessages(ctx, "w2", base.Add(lease-time.Millisecond), lease, 10)
		must(t, "claim", err)
		wantIDs(t, "B during A's lease", got)
		// A died mid-send: after the lease, B takes over.
		after := base.Add(lease)
		got, err = o.ClaimMessages(ctx, "w2", after, lease, 10)
		must(t, "claim", err)
		wantIDs(t, "B after A's lease", got, "m")
		if len(got) == 1 && got[0].Attempts != 2 {
			t.Errorf("attempts = %d, want 2", got[0].Attempts)
		}
		// A wakes up: it no longer holds the lease and cannot settle.
		wantErr(t, "stale complete", o.CompleteMessage(ctx, "m", "dead-worker", after), store.ErrNotFound)
		wantErr(t, "stale retry", o.RetryMessage(ctx, "m", "dead-worker", after, after, "x"), store.ErrNotFound)
		wantErr(t, "stale fail", o.FailMessage(ctx, "m", "dead-worker", after, "x"), store.ErrNotFound)
		must(t, "complete by holder", o.CompleteMessage(ctx, "m", "w2", after))
		m, err := o.OutboxMessage(ctx, "m")
		must(t, "get", err)
		if m.Status != store.OutboxSent {
			t.Errorf("status = %q, want sent", m.Status)
		}
	})

	t.Run("CompleteIsFinal", func(t *testing.T) {
		t.Parallel()
		o, _ := open(t)
		must(t, "enqueue", o.EnqueueMessage(ctx, outboxMsg("m", base)))
		_, err := o.ClaimMessages(ctx, "w", base, lease, 1)
		must(t, "claim", err)
		must(t, "complete", o.CompleteMessage(ctx, "m", "w", base))
		wantErr(t, "complete twice", o.CompleteMessage(ctx, "m", "w", base), store.ErrNotFound)
		got, err := o.ClaimMessages(ctx, "w", base.Add(24*time.Hour), lease, 10)
		must(t, "claim", err)
		wantIDs(t, "sent is never claimed", got)
		n, err := o.CountPendingMessages(ctx)
		must(t, "count", err)
		if n != 0 {
			t.Errorf("pending = %d, want 0", n)
		}
	})

	t.Run("RetryWaitsForNextAttempt", func(t *testing.T) {
		t.Parallel()
		o, _ := open(t)
		must(t, "enqueue", o.EnqueueMessage(ctx, outboxMsg("m", base)))
		_, err := o.ClaimMessages(ctx, "w", base, lease, 1)
		must(t, "claim", err)
		next := base.Add(30 * time.Second)
		must(t, "retry", o.RetryMessage(ctx, "m", "w", base, next, "421 try later"))
		got, err := o.ClaimMessages(ctx, "w", next.Add(-time.Millisecond), lease, 10)
		must(t, "claim", err)
		wantIDs(t, "before next attempt", got)
		got, err = o.ClaimMessages(ctx, "w", next, lease, 10)
		must(t, "claim", err)
		wantIDs(t, "at next attempt", got, "m")
		if len(got) == 1 && (got[0].Attempts != 2 || got[0].LastError != "421 try later") {
			t.Errorf("retried message: attempts %d, last error %q", got[0].Attempts, got[0].LastError)
		}
	})

	t.Run("DeadIsKeptForInspection", func(t *testing.T) {
		t.Parallel()
		o, _ := open(t)
		must(t, "enqueue", o.EnqueueMessage(ctx, outboxMsg("dead", base)))
		must(t, "enqueue", o.EnqueueMessage(ctx, outboxMsg("live", base.Add(time.Second))))
		_, err := o.ClaimMessages(ctx, "w", base, lease, 1)
		must(t, "claim", err)
		must(t, "fail", o.FailMessage(ctx, "dead", "w", base, "550 no such user"))
		dead, err := o.ListOutbox(ctx, store.OutboxDead, 10)
		must(t, "list dead", err)
		wantIDs(t, "dead list", dead, "dead")
		if len(dead) == 1 && (dead[0].LastError != "550 no such user" || dead[0].Attempts != 1) {
			t.Errorf("dead message = %+v", dead[0])
		}
		all, err := o.ListOutbox(ctx, "", 10)
		must(t, "list all", err)
		wantIDs(t, "all, newest first", all, "live", "dead")
		got, err := o.ClaimMessages(ctx, "w", base.Add(24*time.Hour), lease, 10)
		must(t, "claim", err)
		wantIDs(t, "dead is never claimed", got, "live")
	})

	t.Run("Purge", func(t *testing.T) {
		t.Parallel()
		o, _ := open(t)
		for _, id := range []string{"sent", "dead", "pending"} {
			must(t, "enqueue", o.EnqueueMessage(ctx, outboxMsg(id, base)))
		}
		_, err := o.ClaimMessages(ctx, "w", base, lease, 2) // "dead", "pending" (id order)
		must(t, "claim", err)
		must(t, "fail", o.FailMessage(ctx, "dead", "w", base, "x"))
		must(t, "retry", o.RetryMessage(ctx, "pending", "w", base, base, "x"))
		_, err = o.ClaimMessages(ctx, "w", base, lease, 10) // "pending" again, then "sent"
		must(t, "claim", err)
		must(t, "complete", o.CompleteMessage(ctx, "sent", "w", base))
		n, err := o.PurgeOutbox(ctx, base)
		must(t, "purge", err)
		if n != 0 {
			t.Errorf("purge before their update removed %d", n)
		}
		n, err = o.PurgeOutbox(ctx, base.Add(time.Millisecond))
		must(t, "purge", err)
		if n != 2 {
			t.Errorf("purged %d, want 2 (sent and dead)", n)
		}
		all, err := o.ListOutbox(ctx, "", 10)
		must(t, "list", err)
		wantIDs(t, "after purge", all, "pending")
	})

	t.Run("ConcurrentClaimersNeverShare", func(t *testing.T) {
		t.Parallel()
		o, _ := open(t)
		const msgs, workers = 40, 6
		for i := range msgs {
			must(t, "enqueue", o.EnqueueMessage(ctx, outboxMsg(fmt.Sprintf("m%02d", i), base)))
		}
		var (
			mu     sync.Mutex
			seen   = map[string]string{}
			wg     sync.WaitGroup
			errs   = make(chan error, workers)
			double []string
		)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("w%d", w)
				for {
					got, err := o.ClaimMessages(ctx, owner, base, lease, 3)
					if err != nil {
						errs <- err
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, m := range got {
						if prev, ok := seen[m.ID]; ok {
							double = append(double, m.ID+" by "+prev+" and "+owner)
						}
						seen[m.ID] = owner
					}
					mu.Unlock()
					for _, m := range got {
						if err := o.CompleteMessage(ctx, m.ID, owner, base); err != nil {
							errs <- err
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("worker: %v", err)
		}
		if len(double) > 0 {
			t.Errorf("claimed twice: %v", double)
		}
		if len(seen) != msgs {
			t.Errorf("claimed %d messages, want %d", len(seen), msgs)
		}
	})
}

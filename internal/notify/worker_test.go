package notify

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
	sqlstore "github.com/caddyauth/gateway/store/sql"
)

const testSecret = "1IBeK1AAMeMYw8wTB0HAPjSxmSSKpp17-current"

func testSealer(t *testing.T, current, previous string) *Sealer {
	t.Helper()
	ring, err := keys.NewRing(current, previous)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSealer(ring.Key("outbox"), ring.VerifyKeys("outbox"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testTemplates(t *testing.T) *Templates {
	t.Helper()
	tp, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// clock is a manual clock the tests move.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.UnixMilli(time.Now().UnixMilli())} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// fakeSender fails while fail() says so and records what it delivered.
type fakeSender struct {
	mu    sync.Mutex
	fail  func(n int) error // n: 1-based call number
	calls int
	got   []Rendered
}

func (f *fakeSender) Send(ctx context.Context, m Rendered) error {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(n); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.got = append(f.got, m)
	f.mu.Unlock()
	return nil
}

func (f *fakeSender) delivered() []Rendered {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Rendered(nil), f.got...)
}

type counts struct{ sent, failed atomic.Int64 }

func (c *counts) Sent(string)   { c.sent.Add(1) }
func (c *counts) Failed(string) { c.failed.Add(1) }
func (c *counts) Depth(int)     {}

func mfaMessage(to, code string) Message {
	return Message{Kind: KindMFACode, Channel: Email, To: to, Data: map[string]string{DataCode: code, DataSite: "Example"}}
}

func TestBackoffSchedule(t *testing.T) {
	b := DefaultBackoff
	for _, tc := range []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{1, 0, 10 * time.Second},
		{2, 0, 20 * time.Second},
		{3, 0, 40 * time.Second},
		{7, 0, 640 * time.Second},
		{8, 0, 15 * time.Minute}, // 1280s capped at Max
		{30, 0, 15 * time.Minute},
		{1, 0.5, 7500 * time.Millisecond}, // jitter removes up to half
		{3, 0.999999, 20*time.Second + 20*time.Microsecond},
	} {
		if got := b.Delay(tc.attempt, tc.r); got != tc.want {
			t.Errorf("Delay(%d, %v) = %v, want %v", tc.attempt, tc.r, got, tc.want)
		}
	}
	// The whole default schedule, without jitter, is about 21 minutes.
	var total time.Duration
	for n := 1; n < b.MaxAttempts; n++ {
		total += b.Delay(n, 0)
	}
	if total != 1270*time.Second {
		t.Errorf("default schedule totals %v, want 21m10s", total)
	}
}

func TestSealRotationAndBinding(t *testing.T) {
	old := testSealer(t, "dv5ODDlAu86-e9oeJsTzXIWCmRCdbSOx-previous", "")
	rotated := testSealer(t, testSecret, "dv5ODDlAu86-e9oeJsTzXIWCmRCdbSOx-previous")
	stranger := testSealer(t, testSecret, "")
	aad := binding("id1", KindMFACode, Email, "a@example.com", "u1")
	sealed, err := old.Seal(aad, map[string]string{"code": "493817"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), "493817") {
		t.Fatal("sealed payload holds the code in clear")
	}
	got, err := rotated.Open(aad, sealed)
	if err != nil || got["code"] != "493817" {
		t.Errorf("after rotation: %v %v, want the code (previous key opens it)", got, err)
	}
	if _, err := stranger.Open(aad, sealed); !errors.Is(err, ErrUnseal) {
		t.Errorf("without the previous secret: err = %v, want ErrUnseal", err)
	}
	other := binding("id1", KindMFACode, Email, "mallory@example.com", "u1")
	if _, err := rotated.Open(other, sealed); !errors.Is(err, ErrUnseal) {
		t.Errorf("moved to another recipient: err = %v, want ErrUnseal", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := rotated.Open(aad, sealed); !errors.Is(err, ErrUnseal) {
		t.Errorf("tampered: err = %v, want ErrUnseal", err)
	}
}

func TestEnqueueValidatesAndEncrypts(t *testing.T) {
	ctx := context.Background()
	st := memory.NewOutbox()
	q := NewOutbox(st, testSealer(t, testSecret, ""), Email)
	for name, tc := range map[string]struct {
		m    Message
		want error
	}{
		"unknown kind":         {Message{Kind: "nope", Channel: Email, To: "a@example.com"}, nil},
		"unknown channel":      {Message{Kind: KindMFACode, Channel: "fax", To: "a@example.com"}, nil},
		"no sms sender":        {Message{Kind: KindMFACode, Channel: SMS, To: "+15555550100"}, ErrNoSender},
		"empty recipient":      {Message{Kind: KindMFACode, Channel: Email}, nil},
		"header injection":     {Message{Kind: KindMFACode, Channel: Email, To: "a@example.com\r\nBcc: x@evil.test"}, nil},
		"recipient is too big": {Message{Kind: KindMFACode, Channel: Email, To: strings.Repeat("a", 400) + "@example.com"}, nil},
	} {
		err := q.Enqueue(ctx, tc.m)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: err = %v, want an error (%v)", name, err, tc.want)
		}
	}
	woke := 0
	q.OnEnqueue(func() { woke++ })
	if err := q.Enqueue(ctx, mfaMessage("ada@example.com", "493817")); err != nil {
		t.Fatal(err)
	}
	msgs, _ := st.ListOutbox(ctx, "", 10)
	if len(msgs) != 1 || woke != 1 {
		t.Fatalf("stored %d messages, woke %d; want 1 and 1", len(msgs), woke)
	}
	m := msgs[0]
	if m.Kind != KindMFACode || m.Recipient != "ada@example.com" || m.Status != store.OutboxPending {
		t.Errorf("stored %+v", m)
	}
	if strings.Contains(string(m.Payload), "493817") || strings.Contains(string(m.Payload), "Example") {
		t.Error("the template data is stored in clear")
	}
}

func newTestWorker(t *testing.T, st store.OutboxStore, c *clock, senders map[string]Sender, obs Observer) *Worker {
	t.Helper()
	w, err := NewWorker(WorkerConfig{
		Store: st, Sealer: testSealer(t, testSecret, ""), Templates: testTemplates(t), Senders: senders,
		Observer: obs, Backoff: Backoff{Base: time.Second, Max: time.Minute, MaxAttempts: 4, Jitter: 0.5},
		SendTimeout: 5 * time.Second, Now: c.Now, Rand: func() float64 { return 0.5 },
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWorkerRetriesWithBackoffThenDelivers(t *testing.T) {
	ctx := context.Background()
	st := memory.NewOutbox()
	c := newClock()
	start := c.Now()
	q := NewOutbox(st, testSealer(t, testSecret, ""), Email)
	q.now = c.Now
	snd := &fakeSender{fail: func(n int) error {
		if n <= 2 {
			return fmt.Errorf("421 try again later (%d)", n)
		}
		return nil
	}}
	obs := &counts{}
	w := newTestWorker(t, st, c, map[string]Sender{Email: snd}, obs)
	if err := q.Enqueue(ctx, mfaMessage("ada@example.com", "493817")); err != nil {
		t.Fatal(err)
	}
	// Attempt 1 fails: next after 1s minus half of it (Rand 0.5, Jitter 0.5).
	// Attempt 2 fails: 2s - 0.5s. Attempt 3 succeeds.
	steps := []struct {
		at        time.Duration
		claimed   int
		nextAfter time.Duration // from the attempt; 0: none
	}{
		{0, 1, 750 * time.Millisecond},
		{749 * time.Millisecond, 0, 0},
		{750 * time.Millisecond, 1, 1500 * time.Millisecond},
		{2249 * time.Millisecond, 0, 0},
		{2250 * time.Millisecond, 1, 0},
	}
	for _, s := range steps {
		c.Set(start.Add(s.at))
		n, err := w.RunOnce(ctx)
		if err != nil || n != s.claimed {
			t.Fatalf("at +%v: claimed %d (%v), want %d", s.at, n, err, s.claimed)
		}
		msgs, _ := st.ListOutbox(ctx, "", 1)
		if s.nextAfter != 0 && !msgs[0].NextAttemptAt.Equal(start.Add(s.at+s.nextAfter)) {
			t.Errorf("at +%v: next attempt at +%v, want +%v", s.at, msgs[0].NextAttemptAt.Sub(start), s.at+s.nextAfter)
		}
	}
	msgs, _ := st.ListOutbox(ctx, "", 1)
	if msgs[0].Status != store.OutboxSent || msgs[0].Attempts != 3 {
		t.Errorf("final: status %s after %d attempts, want sent after 3", msgs[0].Status, msgs[0].Attempts)
	}
	got := snd.delivered()
	if len(got) != 1 || !strings.Contains(got[0].Text, "493817") || got[0].To != "ada@example.com" || got[0].Subject == "" {
		t.Errorf("delivered %+v", got)
	}
	if obs.sent.Load() != 1 || obs.failed.Load() != 2 {
		t.Errorf("metrics: sent %d failed %d, want 1 and 2", obs.sent.Load(), obs.failed.Load())
	}
}

func TestWorkerMessageThatKeepsFailingEndsDead(t *testing.T) {
	ctx := context.Background()
	st := memory.NewOutbox()
	c := newClock()
	q := NewOutbox(st, testSealer(t, testSecret, ""), Email)
	q.now = c.Now
	snd := &fakeSender{fail: func(int) error { return errors.New("connection refused") }}
	w := newTestWorker(t, st, c, map[string]Sender{Email: snd}, nil)
	if err := q.Enqueue(ctx, mfaMessage("ada@example.com", "493817")); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		c.Set(c.Now().Add(time.Hour))
	}
	if snd.calls != 4 {
		t.Errorf("sender called %d times, want MaxAttempts = 4", snd.calls)
	}
	dead, _ := st.ListOutbox(ctx, store.OutboxDead, 10)
	if len(dead) != 1 || dead[0].Attempts != 4 || dead[0].LastError != "connection refused" {
		t.Fatalf("dead = %+v, want the message after 4 attempts with its last error", dead)
	}
	// A payload no key opens is dead at once: retrying cannot help.
	bad := &store.OutboxMessage{ID: "bad", Kind: KindMFACode, Channel: Email, Recipient: "b@example.com", Payload: []byte{1, 2, 3}, CreatedAt: c.Now()}
	if err := st.EnqueueMessage(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if _, err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	m, _ := st.OutboxMessage(ctx, "bad")
	if m.Status != store.OutboxDead || m.Attempts != 1 {
		t.Errorf("undecryptable message: %s after %d attempts, want dead after 1", m.Status, m.Attempts)
	}
}

func openSQL(t *testing.T, path string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), "sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestRestartWithoutLoss: a process enqueues and exits before delivering;
// another dies in the middle of a send. The next process delivers both.
func TestRestartWithoutLoss(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "auth.db")
	c := newClock()

	// Process 1: enqueues two messages and exits without a worker.
	db := openSQL(t, path)
	q := NewOutbox(db, testSealer(t, testSecret, ""), Email)
	q.now = c.Now
	for _, to := range []string{"a@example.com", "b@example.com"} {
		if err := q.Enqueue(ctx, mfaMessage(to, "111111")); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	// Process 2: claims them and dies mid-send (no settle, lease held).
	db = openSQL(t, path)
	claimed, err := db.ClaimMessages(ctx, "crashed-process", c.Now(), 90*time.Second, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	db.Close()

	// Process 3: delivers the unclaimed one now, the orphan after the lease.
	db = openSQL(t, path)
	t.Cleanup(func() { db.Close() })
	snd := &fakeSender{}
	w := newTestWorker(t, db, c, map[string]Sender{Email: snd}, nil)
	if _, err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := snd.delivered(); len(got) != 1 {
		t.Fatalf("before the lease expires: delivered %d, want 1", len(got))
	}
	c.Set(c.Now().Add(90 * time.Second))
	if _, err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got := snd.delivered()
	if len(got) != 2 || got[0].To == got[1].To {
		t.Fatalf("delivered %v, want both recipients once", got)
	}
	if n, _ := db.CountPendingMessages(ctx); n != 0 {
		t.Errorf("pending = %d, want 0", n)
	}
}

// TestConcurrentWorkersDeliverOnce: several workers (as several instances
// would) share one database; every message is delivered exactly once.
func TestConcurrentWorkersDeliverOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "auth.db")
	db := openSQL(t, path)
	t.Cleanup(func() { db.Close() })
	q := NewOutbox(db, testSealer(t, testSecret, ""), Email)
	const msgs = 30
	for i := range msgs {
		if err := q.Enqueue(ctx, mfaMessage(fmt.Sprintf("u%02d@example.com", i), "222222")); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	per := map[string]int{}
	rec := senderFunc(func(_ context.Context, m Rendered) error {
		time.Sleep(2 * time.Millisecond) // widen the race window
		mu.Lock()
		per[m.To]++
		mu.Unlock()
		return nil
	})
	var wg sync.WaitGroup
	for i := range 4 {
		// Each worker has its own connection pool, like another instance.
		wdb := openSQL(t, path)
		t.Cleanup(func() { wdb.Close() })
		w, err := NewWorker(WorkerConfig{
			Store: wdb, Sealer: testSealer(t, testSecret, ""), Templates: testTemplates(t),
			Senders: map[string]Sender{Email: rec}, Batch: 3, Owner: fmt.Sprintf("instance-%d", i),
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := w.RunOnce(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(per) != msgs {
		t.Errorf("delivered to %d recipients, want %d", len(per), msgs)
	}
	for to, n := range per {
		if n != 1 {
			t.Errorf("%s got %d messages, want 1", to, n)
		}
	}
}

type senderFunc func(context.Context, Rendered) error

func (f senderFunc) Send(ctx context.Context, m Rendered) error { return f(ctx, m) }

// TestStopInterruptsAndReleases: Stop returns while a send hangs, and the
// message is handed back for the next process at once.
func TestStopInterruptsAndReleases(t *testing.T) {
	ctx := context.Background()
	st := memory.NewOutbox()
	q := NewOutbox(st, testSealer(t, testSecret, ""), Email)
	started := make(chan struct{})
	hang := senderFunc(func(ctx context.Context, _ Rendered) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	w, err := NewWorker(WorkerConfig{
		Store: st, Sealer: testSealer(t, testSecret, ""), Templates: testTemplates(t),
		Senders: map[string]Sender{Email: hang}, SendTimeout: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	q.OnEnqueue(w.Wake)
	w.Start(ctx)
	if err := q.Enqueue(ctx, mfaMessage("ada@example.com", "333333")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the worker did not pick the message up after Wake")
	}
	stopped := make(chan struct{})
	go func() { w.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return")
	}
	msgs, _ := st.ListOutbox(ctx, "", 1)
	m := msgs[0]
	if m.Status != store.OutboxPending || m.LeaseOwner != "" || m.NextAttemptAt.After(time.Now()) {
		t.Errorf("after Stop: %+v, want pending, unleased and due", m)
	}
	// The next process delivers it.
	snd := &fakeSender{}
	w2 := newTestWorker(t, st, &clock{now: time.Now()}, map[string]Sender{Email: snd}, nil)
	if n, err := w2.RunOnce(ctx); n != 1 || err != nil || len(snd.delivered()) != 1 {
		t.Errorf("next process: claimed %d (%v), delivered %d", n, err, len(snd.delivered()))
	}
	w.Stop() // twice is fine
}

package notify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
)

// Backoff is the retry schedule: attempt n (1-based) that fails waits
// min(Base * 2^(n-1), Max), less up to Jitter of it at random, so instances
// that failed together do not retry together. After MaxAttempts attempts the
// message is dead.
type Backoff struct {
	Base        time.Duration
	Max         time.Duration
	MaxAttempts int
	Jitter      float64 // 0..1
}

// DefaultBackoff: 10s, 20s, 40s ... 640s (each minus up to half at random),
// 8 attempts over about 21 minutes, then dead.
var DefaultBackoff = Backoff{Base: 10 * time.Second, Max: 15 * time.Minute, MaxAttempts: 8, Jitter: 0.5}

// Delay is the wait after failed attempt n (1-based); r is a uniform random
// number in [0, 1).
func (b Backoff) Delay(n int, r float64) time.Duration {
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d - time.Duration(float64(d)*b.Jitter*r)
}

// Observer is told what the worker does (Prometheus in production).
type Observer interface {
	Sent(channel string)
	Failed(channel string)
	Depth(n int)
}

type nopObserver struct{}

func (nopObserver) Sent(string)   {}
func (nopObserver) Failed(string) {}
func (nopObserver) Depth(int)     {}

// WorkerConfig configures a Worker. Store, Sealer, Templates and Senders
// are required.
type WorkerConfig struct {
	Store     store.OutboxStore
	Sealer    *Sealer
	Templates *Templates
	Senders   map[string]Sender // by channel
	Logger    *zap.Logger
	Observer  Observer
	Backoff   Backoff // zero: DefaultBackoff
	// SendTimeout bounds one delivery attempt (default 30s).
	SendTimeout time.Duration
	// Lease is how long a claimed message belongs to this worker (default
	// SendTimeout + 1m). A worker that dies leaves its messages to be
	// retried after it.
	Lease time.Duration
	// Poll is how often the queue is checked when nothing wakes the worker
	// (default 2s): messages enqueued by other instances, and retries.
	Poll time.Duration
	// Batch is the most messages claimed (and sent concurrently) at once
	// (default 8).
	Batch int
	// Owner names this worker in leases (default a random id).
	Owner string
	Now   func() time.Time
	Rand  func() float64
}

// Worker delivers queued messages: claim a batch, render, send, settle.
type Worker struct {
	cfg  WorkerConfig
	log  *zap.Logger
	wake chan struct{}

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewWorker checks cfg and fills defaults.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.Store == nil || cfg.Sealer == nil || cfg.Templates == nil {
		return nil, errors.New("notify: worker needs a store, a sealer and templates")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Backoff == (Backoff{}) {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Backoff.MaxAttempts < 1 || cfg.Backoff.Base <= 0 || cfg.Backoff.Max < cfg.Backoff.Base ||
		cfg.Backoff.Jitter < 0 || cfg.Backoff.Jitter > 1 {
		return nil, fmt.Errorf("notify: bad backoff %+v", cfg.Backoff)
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 30 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = cfg.SendTimeout + time.Minute
	}
	if cfg.Lease <= cfg.SendTimeout {
		return nil, errors.New("notify: the lease must outlast the send timeout, or two workers could send one message")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 8
	}
	if cfg.Owner == "" {
		cfg.Owner = keys.NewID()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	return &Worker{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1)}, nil
}

// Wake makes the worker look at the queue now (after a local Enqueue).
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Start runs the worker in the background until Stop or ctx ends.
func (w *Worker) Start(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done != nil {
		return
	}
	ctx, w.cancel = context.WithCancel(ctx)
	w.done = make(chan struct{})
	go func() {
		defer close(w.done)
		w.Run(ctx)
	}()
}

// Stop cancels the worker and waits for it. A send in flight is
// interrupted and its message released for the next worker.
func (w *Worker) Stop() {
	w.mu.Lock()
	cancel, done := w.cancel, w.done
	w.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// Run processes the queue until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for {
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.Warn("outbox: claiming messages failed; will retry", zap.Error(err))
		}
		if ctx.Err() != nil {
			return
		}
		if n == w.cfg.Batch {
			continue // a full batch: there may be more due now
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// RunOnce claims one batch of due messages and delivers them concurrently;
// it returns how many it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	if depth, err := w.cfg.Store.CountPendingMessages(ctx); err == nil {
		w.cfg.Observer.Depth(depth)
	}
	msgs, err := w.cfg.Store.ClaimMessages(ctx, w.cfg.Owner, w.cfg.Now(), w.cfg.Lease, w.cfg.Batch)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, m := range msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.deliver(ctx, m)
		}()
	}
	wg.Wait()
	return len(msgs), nil
}

// settleCtx is for writing the outcome: it must happen even when the
// worker is stopping, but not hang.
func settleCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}

func (w *Worker) deliver(ctx context.Context, m *store.OutboxMessage) {
	log := w.log.With(zap.String("id", m.ID), zap.String("kind", m.Kind), zap.String("channel", m.Channel),
		zap.String("to", MaskRecipient(m.Recipient)), zap.Int("attempt", m.Attempts))
	err := w.attempt(ctx, m)
	sctx, cancel := settleCtx(ctx)
	defer cancel()
	now := w.cfg.Now()
	switch {
	case err == nil:
		w.cfg.Observer.Sent(m.Channel)
		if serr := w.cfg.Store.CompleteMessage(sctx, m.ID, w.cfg.Owner, now); serr != nil {
			log.Warn("outbox: message sent but not marked sent (it may be sent again)", zap.Error(serr))
			return
		}
		log.Debug("outbox: message sent")
	case ctx.Err() != nil:
		// Stopping: hand the message back now rather than at lease expiry.
		if serr := w.cfg.Store.RetryMessage(sctx, m.ID, w.cfg.Owner, now, now, "interrupted by shutdown"); serr != nil {
			log.Warn("outbox: could not release message at shutdown; it is retried after its lease", zap.Error(serr))
		}
	case IsPermanent(err) || m.Attempts >= w.cfg.Backoff.MaxAttempts:
		w.cfg.Observer.Failed(m.Channel)
		if serr := w.cfg.Store.FailMessage(sctx, m.ID, w.cfg.Owner, now, err.Error()); serr != nil {
			log.Warn("outbox: could not mark message dead", zap.Error(serr))
			return
		}
		log.Error("outbox: message dead: no more attempts", zap.Error(err))
	default:
		w.cfg.Observer.Failed(m.Channel)
		next := now.Add(w.cfg.Backoff.Delay(m.Attempts, w.cfg.Rand()))
		if serr := w.cfg.Store.RetryMessage(sctx, m.ID, w.cfg.Owner, now, next, err.Error()); serr != nil {
			log.Warn("outbox: could not schedule retry; it is retried after its lease", zap.Error(serr))
			return
		}
		log.Warn("outbox: delivery failed; will retry", zap.Error(err), zap.Time("next_attempt", next))
	}
}

// attempt opens, renders and sends one message.
func (w *Worker) attempt(ctx context.Context, m *store.OutboxMessage) error {
	data, err := w.cfg.Sealer.Open(binding(m.ID, m.Kind, m.Channel, m.Recipient, m.UserID), m.Payload)
	if err != nil {
		return Permanent(err)
	}
	r, err := w.cfg.Templates.Render(m.Kind, m.Channel, data)
	if err != nil {
		return Permanent(err)
	}
	r.ID, r.To, r.UserID = m.ID, m.Recipient, m.UserID
	s, ok := w.cfg.Senders[m.Channel]
	if !ok {
		// Retried, not dead: the operator may configure the sender and
		// restart within the retry window.
		return fmt.Errorf("no %s sender is configured", m.Channel)
	}
	sctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	defer cancel()
	return s.Send(sctx, r)
}

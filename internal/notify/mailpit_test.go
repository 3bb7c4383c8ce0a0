package notify

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/test/harness"
)

// TestMailpitSMTPDownThenDelivered: the SMTP server is down when the
// message is queued; the worker keeps retrying with backoff, and once the
// server is back the mail arrives, with its code, exactly once.
func TestMailpitSMTPDownThenDelivered(t *testing.T) {
	ctx := context.Background()
	mp := harness.StartMailpit(t)
	mp.Stop() // SMTP down

	db := openSQL(t, filepath.Join(t.TempDir(), "auth.db"))
	t.Cleanup(func() { db.Close() })
	sealer := testSealer(t, testSecret, "")
	smtpSender, err := NewSMTP(SMTPConfig{URL: mp.SMTPURL(), From: "Example <no-reply@example.com>", Plaintext: true, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	obs := &counts{}
	w, err := NewWorker(WorkerConfig{
		Store: db, Sealer: sealer, Templates: testTemplates(t), Senders: map[string]Sender{Email: smtpSender},
		Observer: obs, Backoff: Backoff{Base: 200 * time.Millisecond, Max: time.Second, MaxAttempts: 50, Jitter: 0.5},
		SendTimeout: 3 * time.Second, Poll: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	q := NewOutbox(db, sealer, Email)
	q.OnEnqueue(w.Wake)
	w.Start(ctx)
	t.Cleanup(w.Stop)

	if err := q.Enqueue(ctx, Message{
		Kind: KindMFACode, Channel: Email, To: "ada@example.com",
		Data: map[string]string{DataCode: "493817", DataName: "Ada", DataSite: "Example"},
	}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := harness.Eventually(10*time.Second, 20*time.Millisecond, func() bool { return obs.failed.Load() >= 2 }); !ok {
		t.Fatalf("the worker did not retry while SMTP was down (failures: %d)", obs.failed.Load())
	}
	msgs, _ := db.ListOutbox(ctx, "", 10)
	if len(msgs) != 1 || msgs[0].Status != store.OutboxPending || msgs[0].LastError == "" {
		t.Fatalf("while down: %+v, want one pending message with its last error", msgs)
	}

	mp.Restart()
	mail := mp.WaitFor("ada@example.com", 15*time.Second)
	if mail.Code() != "493817" || !strings.Contains(mail.Subject, "verification code") ||
		!strings.Contains(mail.HTML, "493817") || mail.From != "no-reply@example.com" {
		t.Errorf("received %+v", mail)
	}
	if ok, _ := harness.Eventually(5*time.Second, 20*time.Millisecond, func() bool {
		m, err := db.OutboxMessage(ctx, msgs[0].ID)
		return err == nil && m.Status == store.OutboxSent
	}); !ok {
		t.Error("the message was not marked sent")
	}
	w.Stop()
	all, err := mp.MessagesTo("ada@example.com")
	if err != nil || len(all) != 1 {
		t.Errorf("mailpit holds %d messages to ada (%v), want exactly 1", len(all), err)
	}
	if obs.sent.Load() != 1 {
		t.Errorf("sent metric = %d, want 1", obs.sent.Load())
	}
}

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
	if want := msgs[0].ID + ".caddyauth@example.com"; mail.MessageID != want {
		t.Errorf("Message-ID = %q, want %q (derived from the outbox id)", mail.MessageID, want)
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

// TestMailpitMessageIDStable: two sends of one outbox message (a retry
// after a send the server accepted but whose answer was lost) carry the
// same Message-ID, derived from the outbox id; another message has its
// own. A message without an id still gets a (random) Message-ID.
func TestMailpitMessageIDStable(t *testing.T) {
	ctx := context.Background()
	mp := harness.StartMailpit(t)
	s, err := NewSMTP(SMTPConfig{URL: mp.SMTPURL(), From: "Example <no-reply@example.com>", Plaintext: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m := Rendered{ID: "0123456789abcdef0123456789abcdef", Kind: KindMFACode, Channel: Email, To: "ada@example.com", Subject: "s", Text: "t"}
	other := m
	other.ID, other.To = "fedcba9876543210fedcba9876543210", "bob@example.com"
	noID := m
	noID.ID, noID.To = "", "carol@example.com"
	for _, r := range []Rendered{m, m, other, noID} {
		if err := s.Send(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var ada, bob, carol []*harness.Mail
	if ok, _ := harness.Eventually(10*time.Second, 50*time.Millisecond, func() bool {
		ada, _ = mp.MessagesTo("ada@example.com")
		bob, _ = mp.MessagesTo("bob@example.com")
		carol, _ = mp.MessagesTo("carol@example.com")
		return len(ada) == 2 && len(bob) == 1 && len(carol) == 1
	}); !ok {
		t.Fatalf("mailpit holds %d/%d/%d mails, want 2/1/1", len(ada), len(bob), len(carol))
	}
	want := m.ID + ".caddyauth@example.com"
	if ada[0].MessageID != want || ada[1].MessageID != want {
		t.Errorf("the two sends of one message carry Message-IDs %q and %q, want %q for both", ada[0].MessageID, ada[1].MessageID, want)
	}
	if bob[0].MessageID != other.ID+".caddyauth@example.com" {
		t.Errorf("another message's Message-ID = %q", bob[0].MessageID)
	}
	if id := carol[0].MessageID; id == "" || strings.Contains(id, ".caddyauth@") {
		t.Errorf("a message without an outbox id has Message-ID %q, want a random one", id)
	}
}

func TestMessageIDShape(t *testing.T) {
	for _, c := range []struct{ id, domain, want string }{
		{"abc123", "example.com", "abc123.caddyauth@example.com"},
		{"", "example.com", ""},
		{"abc", "", ""},
		{"a>b", "example.com", ""},
		{"abc", "exa mple.com", ""},
		{"abc\r\nBcc: x@y", "example.com", ""},
	} {
		if got := MessageID(c.id, c.domain); got != c.want {
			t.Errorf("MessageID(%q, %q) = %q, want %q", c.id, c.domain, got, c.want)
		}
	}
}

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/notify"
	sqlstore "github.com/caddyauth/gateway/store/sql"
	"github.com/caddyauth/gateway/test/harness"
)

// TestOutboxDeliversThroughMailpit: the real binary names its senders at
// start, warns about the development-only ones, and its worker delivers a
// message that another process queued in the shared database (as another
// instance would) to a real SMTP server. The SMS log sender logs that a
// message went out, never its content.
func TestOutboxDeliversThroughMailpit(t *testing.T) {
	t.Parallel()
	mp := harness.StartMailpit(t)
	dbPath := filepath.Join(t.TempDir(), "auth.db")
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, "database sqlite "+dbPath, mp.EmailOption(), "sms log")
	})
	g.start()
	ready := g.caddy.WaitLog("caddyauth ready", 10*time.Second)
	if ready["email"] != "smtp smtp://"+mp.SMTPAddr() || ready["sms"] != "log" {
		t.Errorf("startup line names email %v and sms %v", ready["email"], ready["sms"])
	}
	g.caddy.WaitLog("DEVELOPMENT ONLY: email smtp plaintext", 5*time.Second)
	g.caddy.WaitLog("DEVELOPMENT ONLY: sms log", 5*time.Second)

	// Another process queues into the same database with the same secret.
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ring, err := keys.NewRing(g.cfg.Secret, "")
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := notify.NewSealer(ring.Key("outbox"), ring.VerifyKeys("outbox"))
	if err != nil {
		t.Fatal(err)
	}
	q := notify.NewOutbox(db, sealer, notify.Email, notify.SMS)
	code := fmt.Sprintf("%08d", time.Now().UnixNano()%100_000_000)
	token := harness.RandomSecret()
	harness.Sensitive(token)
	link := "https://auth.example.test/auth/passwordless/verify?token=" + token
	if err := q.Enqueue(ctx, notify.Message{
		Kind: notify.KindPasswordless, Channel: notify.Email, To: "ada@example.test",
		Data: map[string]string{notify.DataCode: code, notify.DataLink: link},
	}); err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(ctx, notify.Message{
		Kind: notify.KindMFACode, Channel: notify.SMS, To: "+15555550123",
		Data: map[string]string{notify.DataCode: code, notify.DataLink: link},
	}); err != nil {
		t.Fatal(err)
	}

	mail := mp.WaitFor("ada@example.test", 20*time.Second)
	if mail.Code() != code || !strings.Contains(mail.Text, link) || mail.From != harness.MailFrom {
		t.Errorf("mail from %q: code %q, want %q; text:\n%s", mail.From, mail.Code(), code, mail.Text)
	}
	e := g.caddy.WaitLog("log sender (development only)", 20*time.Second)
	if e["to"] != "+15*******23" || e["kind"] != notify.KindMFACode {
		t.Errorf("log sender entry: %v", e)
	}
	if strings.Contains(g.caddy.Logs(), code) {
		t.Error("the code appears in the gateway's log")
	}

	// The counters move just after the send returns: poll briefly.
	var text string
	wants := []string{
		`caddy_auth_outbox_sent_total{channel="email"} 1`,
		`caddy_auth_outbox_sent_total{channel="sms"} 1`,
		`caddy_auth_outbox_failures_total{channel="email"} 0`,
		`caddy_auth_outbox_depth 0`,
	}
	harness.Eventually(10*time.Second, 100*time.Millisecond, func() bool {
		res, err := (&http.Client{Timeout: 10 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", g.cfg.AdminPort))
		if err != nil {
			return false
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		text = string(body)
		for _, w := range wants {
			if !strings.Contains(text, w) {
				return false
			}
		}
		return true
	})
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("metrics lack %s", w)
		}
	}
}

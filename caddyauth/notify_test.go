package caddyauth

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/test/harness"
)

const notifySecret = "gm3uMXVSHuIziiIGqzSukSKdlldgsZPy_MB8kiBIID4"

// TestNotifyDeliversThroughMailpit: the app's outbox (what the flows get as
// deps.Outbox) queues, the worker started by Start delivers to a real SMTP
// server, and overridden templates are used.
func TestNotifyDeliversThroughMailpit(t *testing.T) {
	mp := harness.StartMailpit(t)
	tpl := t.TempDir()
	if err := os.WriteFile(filepath.Join(tpl, "mfa_code.txt"), []byte("Subject: ACME code\n\nACME code: {{.code}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CADDYAUTH_TEST_SMTP_PASS", "p@ss/word") // characters a URL cannot hold raw
	a := &App{
		Secret: notifySecret,
		Email: &SenderConfig{
			Sender: "smtp", URL: "smtp://mailer@" + mp.SMTPAddr(), From: "Auth <no-reply@example.com>",
			Password: "{env.CADDYAUTH_TEST_SMTP_PASS}", Plaintext: true,
		},
		SMS:              &SenderConfig{Sender: "log"},
		MessageTemplates: tpl,
	}
	if err := provision(t, a); err != nil {
		t.Fatal(err)
	}
	if a.queue() == nil || a.worker == nil {
		t.Fatal("no outbox or worker although senders are configured")
	}
	if got := a.Email.describe(); got != "smtp smtp://mailer@"+mp.SMTPAddr() && got != "smtp smtp://"+mp.SMTPAddr() {
		t.Errorf("startup description %q", got)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop() })
	if err := a.queue().Enqueue(context.Background(), notify.Message{
		Kind: notify.KindMFACode, Channel: notify.Email,
		To: "ada@example.com", Data: map[string]string{notify.DataCode: "493817"},
	}); err != nil {
		t.Fatal(err)
	}
	m := mp.WaitFor("ada@example.com", 10*time.Second)
	if m.Subject != "ACME code" || m.Code() != "493817" {
		t.Errorf("got %q / %q, want the overridden template with the code", m.Subject, m.Text)
	}
	// SMS goes to the log sender; an unconfigured channel would refuse.
	if err := a.queue().Enqueue(context.Background(), notify.Message{
		Kind: notify.KindMFACode, Channel: notify.SMS,
		To: "+15555550100", Data: map[string]string{notify.DataCode: "111111"},
	}); err != nil {
		t.Errorf("sms log: %v", err)
	}
}

func TestNotifyNotConfigured(t *testing.T) {
	a := &App{Secret: notifySecret}
	if err := provision(t, a); err != nil {
		t.Fatal(err)
	}
	if a.queue() != nil || a.worker != nil {
		t.Error("an outbox without any sender: flows should get their refusing default")
	}
	if a.Email.describe() != "none" {
		t.Errorf("describe = %q", a.Email.describe())
	}
}

func TestNotifyConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		email, sms *SenderConfig
		tpl        string
		want       string
	}{
		{sms: &SenderConfig{Sender: "smtp", URL: "smtp://h:25", From: "a@example.com"}, want: "email only"},
		{sms: &SenderConfig{Sender: "webhook", URL: "https://sms.example.com", Secret: "short"}, want: "at least 16"},
		{sms: &SenderConfig{Sender: "webhook", URL: "ftp://sms.example.com", Secret: "0123456789abcdef"}, want: "http(s)"},
		{email: &SenderConfig{Sender: "smtp", URL: "smtp://h:587", From: "a@example.com", Password: "x"}, want: "needs a user name"},
		{email: &SenderConfig{Sender: "smtp", URL: "smtp://h:587"}, want: "from"},
		{email: &SenderConfig{Sender: "pigeon"}, want: "unknown email sender"},
		{email: &SenderConfig{Sender: "log"}, tpl: "/nonexistent/templates", want: "message_templates"},
		{email: &SenderConfig{Sender: "webhook", URL: "https://x.example.com", Secret: "{env.CADDYAUTH_TEST_UNSET_SECRET}"}, want: "secret"},
	} {
		err := provision(t, &App{Secret: notifySecret, Email: tc.email, SMS: tc.sms, MessageTemplates: tc.tpl})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v %+v: err = %v, want %q", tc.email, tc.sms, err, tc.want)
		}
	}
}

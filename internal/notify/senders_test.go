package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// ----- templates -----

func TestTemplatesEveryKindRenders(t *testing.T) {
	tp := testTemplates(t)
	data := map[string]string{
		DataCode: "493817", DataLink: "https://auth.example.com/x?t=abc", DataName: "Ada",
		DataSite: "Example", DataExpires: "10 minutes", DataIP: "203.0.113.9", DataTime: "2026-11-26 10:00 UTC", DataInviter: "Bob",
	}
	codeKinds := map[string]bool{KindVerifyEmail: true, KindVerifyPhone: true, KindPasswordless: true, KindPasswordReset: true, KindMFACode: true}
	for _, k := range Kinds {
		for _, ch := range []string{Email, SMS} {
			r, err := tp.Render(k, ch, data)
			if err != nil {
				t.Errorf("%s/%s: %v", k, ch, err)
				continue
			}
			if r.Subject == "" || strings.Contains(r.Subject, "\n") || strings.TrimSpace(r.Text) == "" {
				t.Errorf("%s/%s: subject %q, text %q", k, ch, r.Subject, r.Text)
			}
			if ch == Email && !strings.Contains(r.HTML, "<html>") {
				t.Errorf("%s: no HTML body", k)
			}
			if ch == SMS && (r.HTML != "" || len(r.Text) > 320) {
				t.Errorf("%s sms: html %q, %d characters", k, r.HTML, len(r.Text))
			}
			if codeKinds[k] && !strings.Contains(r.Text, "493817") {
				t.Errorf("%s/%s: the code is missing from %q", k, ch, r.Text)
			}
			if strings.Contains(r.Text+r.HTML+r.Subject, "<no value>") {
				t.Errorf("%s/%s: a missing key printed <no value>", k, ch)
			}
		}
	}
	// Absent data renders as nothing, not an error.
	if _, err := tp.Render(KindNewSignIn, Email, nil); err != nil {
		t.Errorf("render without data: %v", err)
	}
}

func TestTemplatesHTMLEscapesData(t *testing.T) {
	r, err := testTemplates(t).Render(KindMFACode, Email, map[string]string{DataCode: "1", DataName: `<script>alert(1)</script>`})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.HTML, "<script>") || !strings.Contains(r.HTML, "&lt;script&gt;") {
		t.Errorf("HTML body does not escape data: %s", r.HTML)
	}
	r, err = testTemplates(t).Render(KindInvitation, Email, map[string]string{DataLink: "javascript:alert(1)"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.HTML, `href="javascript:`) {
		t.Errorf("HTML body links a javascript: URL: %s", r.HTML)
	}
}

func TestTemplatesOverrideFromDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("mfa_code.txt", "Subject: ACME code {{.code}}\n\nACME says: {{.code}}\n")
	write("mfa_code.sms.txt", "ACME {{.code}}")
	tp, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := tp.Render(KindMFACode, Email, map[string]string{DataCode: "42"})
	if r.Subject != "ACME code 42" || r.Text != "ACME says: 42\n" {
		t.Errorf("override not used: %q / %q", r.Subject, r.Text)
	}
	if !strings.Contains(r.HTML, "42") || !strings.Contains(r.HTML, "<html>") {
		t.Errorf("the embedded HTML should remain: %s", r.HTML)
	}
	r, _ = tp.Render(KindMFACode, SMS, map[string]string{DataCode: "42"})
	if r.Text != "ACME 42" {
		t.Errorf("sms override: %q", r.Text)
	}
	r, _ = tp.Render(KindPasswordChanged, Email, nil)
	if !strings.Contains(r.Subject, "password") {
		t.Errorf("a kind without override should keep the embedded one: %q", r.Subject)
	}
	for name, body := range map[string]string{
		"new_sign_in.txt":  "no subject line\n",
		"new_sign_in.html": "{{if}}",
	} {
		bad := t.TempDir()
		if err := os.WriteFile(filepath.Join(bad, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadTemplates(bad); err == nil {
			t.Errorf("a broken %s was accepted", name)
		}
	}
	if _, err := LoadTemplates(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing templates directory was accepted")
	}
}

// ----- log sender -----

func TestLogSenderNeverLogsContent(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	r, _ := testTemplates(t).Render(KindPasswordless, Email, map[string]string{DataCode: "493817", DataLink: "https://x.test/?t=SECRETTOKEN"})
	r.ID, r.To = "id1", "ada.lovelace@example.com"
	if err := (LogSender{Logger: zap.New(core)}).Send(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 1 {
		t.Fatalf("%d log entries, want 1", logs.Len())
	}
	e := logs.All()[0]
	dump, _ := json.Marshal(e.ContextMap())
	all := e.Message + string(dump)
	for _, secret := range []string{"493817", "SECRETTOKEN", "ada.lovelace"} {
		if strings.Contains(all, secret) {
			t.Errorf("log entry holds %q: %s", secret, all)
		}
	}
	for _, want := range []string{KindPasswordless, Email, "a***@example.com"} {
		if !strings.Contains(all, want) {
			t.Errorf("log entry lacks %q: %s", want, all)
		}
	}
}

func TestMaskRecipient(t *testing.T) {
	for in, want := range map[string]string{
		"ada@example.com": "a***@example.com",
		"@example.com":    "***@example.com",
		"+33612345689":    "+33*******89",
		"+123456":         "+****56",
		"123":             "***",
	} {
		if got := MaskRecipient(in); got != want {
			t.Errorf("MaskRecipient(%q) = %q, want %q", in, got, want)
		}
	}
}

// ----- webhook -----

func TestWebhookSignsAndRetriesOnNon2xx(t *testing.T) {
	secret := "whsec-test-0123456789"
	var (
		mu     sync.Mutex
		status = http.StatusOK
		bodies []WebhookPayload
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !VerifySignature([]byte(secret), r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), body, time.Now(), 5*time.Minute) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil || r.Header.Get("Idempotency-Key") != p.ID {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, p)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	r, _ := testTemplates(t).Render(KindMFACode, SMS, map[string]string{DataCode: "493817"})
	r.ID, r.To = "msg1", "+15555550100"
	wh, err := NewWebhook(srv.URL+"/sms", secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Send(context.Background(), r); err != nil {
		t.Fatalf("send: %v", err)
	}
	if len(bodies) != 1 || bodies[0].To != "+15555550100" || bodies[0].Kind != KindMFACode || bodies[0].Channel != SMS ||
		!strings.Contains(bodies[0].Text, "493817") {
		t.Errorf("received %+v", bodies)
	}
	status = http.StatusBadGateway
	err = wh.Send(context.Background(), r)
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "502") {
		t.Errorf("502: err = %v, want a retryable error naming the status", err)
	}
	// A wrong secret is refused by the receiver: non-2xx, so an error.
	forged, _ := NewWebhook(srv.URL, "another-secret")
	if err := forged.Send(context.Background(), r); err == nil {
		t.Error("a request signed with another secret was accepted")
	}
	// Redirects are not followed (the message would go elsewhere).
	redir := httptest.NewServer(http.RedirectHandler(srv.URL, http.StatusTemporaryRedirect))
	defer redir.Close()
	wr, _ := NewWebhook(redir.URL, secret)
	if err := wr.Send(context.Background(), r); err == nil {
		t.Error("a redirect counted as delivered")
	}
	// A transport error names the host, never the URL's query (API keys).
	dead, _ := NewWebhook("http://127.0.0.1:1/send?api_key=KEY123", secret)
	if err := dead.Send(context.Background(), r); err == nil || strings.Contains(err.Error(), "KEY123") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("connection refused: err = %v, want the host without the query", err)
	}
	if _, err := NewWebhook("ftp://x", secret); err == nil {
		t.Error("a non-http URL was accepted")
	}
	if _, err := NewWebhook(srv.URL, ""); err == nil {
		t.Error("an empty secret was accepted")
	}
}

func TestVerifySignature(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"id":"1"}`)
	now := time.Unix(1_800_000_000, 0)
	ts := "1800000000"
	sig := Sign(secret, ts, body)
	for name, tc := range map[string]struct {
		ts, sig string
		body    []byte
		now     time.Time
		want    bool
	}{
		"valid":          {ts, sig, body, now, true},
		"body changed":   {ts, sig, []byte(`{"id":"2"}`), now, false},
		"stale":          {ts, sig, body, now.Add(6 * time.Minute), false},
		"timestamp swap": {"1800000001", sig, body, now, false},
		"not a number":   {"x", sig, body, now, false},
	} {
		if got := VerifySignature(secret, tc.ts, tc.sig, tc.body, tc.now, 5*time.Minute); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}

// ----- SMTP against an in-process server -----

type smtpMail struct {
	from, to, user, pass string
	tls                  bool
	data                 string
}

type smtpBackend struct {
	mu    sync.Mutex
	mails []smtpMail
	auth  bool // require AUTH PLAIN with u/p
}

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, ok := c.TLSConnectionState()
	return &smtpSession{b: b, m: smtpMail{tls: ok}}, nil
}

func (b *smtpBackend) all() []smtpMail {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]smtpMail(nil), b.mails...)
}

type smtpSession struct {
	b *smtpBackend
	m smtpMail
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "mailer" || pass != "p@ss word" {
			return errors.New("bad credentials")
		}
		s.m.user, s.m.pass = user, pass
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.auth && s.m.user == "" {
		return &smtp.SMTPError{Code: 530, Message: "authentication required"}
	}
	s.m.from = from
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.m.to = to; return nil }
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.data = string(b)
	s.b.mu.Lock()
	s.b.mails = append(s.b.mails, s.m)
	s.b.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// startSMTP serves on a free port: STARTTLS offered when starttls, the
// whole connection in TLS when implicit.
func startSMTP(t *testing.T, starttls, implicit, auth bool) (*smtpBackend, string) {
	t.Helper()
	be := &smtpBackend{auth: auth}
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.AllowInsecureAuth = !starttls && !implicit
	var l net.Listener
	var err error
	if starttls || implicit {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}
	}
	if implicit {
		l, err = tls.Listen("tcp", "127.0.0.1:0", s.TLSConfig)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { s.Close() })
	return be, l.Addr().String()
}

func TestSMTPSender(t *testing.T) {
	r, err := testTemplates(t).Render(KindMFACode, Email, map[string]string{DataCode: "493817", DataName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	r.ID, r.To = "m1", "ada@example.com"
	from := "Example Auth <no-reply@example.com>"
	for _, tc := range []struct {
		name                        string
		starttls, implicit, auth    bool
		scheme, creds               string
		insecure, plaintext, wantOK bool
		wantTLS                     bool
	}{
		{name: "starttls with auth", starttls: true, auth: true, scheme: "smtp", creds: "mailer:p%40ss%20word@", insecure: true, wantOK: true, wantTLS: true},
		{name: "implicit tls", implicit: true, scheme: "smtps", insecure: true, wantOK: true, wantTLS: true},
		{name: "starttls verifies the certificate", starttls: true, scheme: "smtp", wantOK: false},
		{name: "smtp never falls back to plaintext", scheme: "smtp", insecure: true, wantOK: false},
		{name: "plaintext for local dev", scheme: "smtp", plaintext: true, wantOK: true},
		{name: "plaintext with auth", auth: true, scheme: "smtp", creds: "mailer:p%40ss%20word@", plaintext: true, wantOK: true},
		{name: "wrong password", starttls: true, auth: true, scheme: "smtp", creds: "mailer:nope@", insecure: true, wantOK: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be, addr := startSMTP(t, tc.starttls, tc.implicit, tc.auth)
			s, err := NewSMTP(SMTPConfig{
				URL: tc.scheme + "://" + tc.creds + addr, From: from,
				InsecureSkipVerify: tc.insecure, Plaintext: tc.plaintext, Timeout: 5 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), r)
			if !tc.wantOK {
				if err == nil || len(be.all()) != 0 {
					t.Fatalf("delivered (err %v), want a failure", err)
				}
				if strings.Contains(err.Error(), "p@ss") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			mails := be.all()
			if len(mails) != 1 {
				t.Fatalf("%d mails, want 1", len(mails))
			}
			m := mails[0]
			if m.from != "no-reply@example.com" || m.to != "ada@example.com" || m.tls != tc.wantTLS {
				t.Errorf("envelope from %q to %q tls %v", m.from, m.to, m.tls)
			}
			if tc.auth && m.user != "mailer" {
				t.Errorf("AUTH not used")
			}
			for _, want := range []string{"Subject: " + r.Subject, "493817", "text/plain", "text/html", "Auto-Submitted: auto-generated", "Message-ID:"} {
				if !strings.Contains(m.data, want) {
					t.Errorf("message lacks %q:\n%s", want, m.data)
				}
			}
		})
	}
}

func TestSMTPConfigErrors(t *testing.T) {
	for name, cfg := range map[string]SMTPConfig{
		"no from":         {URL: "smtp://127.0.0.1:25"},
		"bad from":        {URL: "smtp://127.0.0.1:25", From: "not an address"},
		"scheme":          {URL: "http://127.0.0.1", From: "a@example.com"},
		"no host":         {URL: "smtp://", From: "a@example.com"},
		"bad port":        {URL: "smtp://h:99999", From: "a@example.com"},
		"smtps plaintext": {URL: "smtps://h", From: "a@example.com", Plaintext: true},
	} {
		if _, err := NewSMTP(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

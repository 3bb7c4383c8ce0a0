package harness

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Mailpit is a private mailpit process (github.com/axllent/mailpit): an
// SMTP server that keeps every message and an HTTP API to read them, so
// end-to-end tests can read codes back from real mail.
type Mailpit struct {
	t        testing.TB
	bin      string
	smtpPort int
	httpPort int
	dir      string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs *lockedBuffer
}

// MailpitBinary finds the mailpit binary: $CADDYAUTH_MAILPIT, then PATH,
// then the Go bin directories `go install` uses (scripts/test.sh installs
// it there).
func MailpitBinary() (string, error) {
	if p := os.Getenv("CADDYAUTH_MAILPIT"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("CADDYAUTH_MAILPIT=%s: %w", p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if d := os.Getenv("GOPATH"); d != "" {
		dirs = append(dirs, filepath.Join(filepath.SplitList(d)[0], "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "mailpit")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("mailpit not found: run scripts/test.sh, or `go install github.com/axllent/mailpit@v1.33.1`, or set CADDYAUTH_MAILPIT")
}

// StartMailpit starts mailpit on free 127.0.0.1 ports (SMTP without TLS,
// any AUTH accepted), waits until its API answers, and stops it at cleanup.
// A missing binary fails the test: never a skip.
func StartMailpit(t testing.TB) *Mailpit {
	t.Helper()
	bin, err := MailpitBinary()
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	m := &Mailpit{t: t, bin: bin, dir: t.TempDir(), logs: &lockedBuffer{}}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		m.smtpPort, m.httpPort = FreePort(t), FreePort(t)
		if lastErr = m.start(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("harness: %v", lastErr)
	}
	t.Cleanup(m.Stop)
	return m
}

// SMTPAddr is host:port of the SMTP listener.
func (m *Mailpit) SMTPAddr() string { return "127.0.0.1:" + strconv.Itoa(m.smtpPort) }

// SMTPURL is the URL for caddyauth's `email smtp` option (it needs the
// `plaintext` option: this server has no TLS).
func (m *Mailpit) SMTPURL() string { return "smtp://" + m.SMTPAddr() }

// APIURL is the base of the HTTP API and web UI.
func (m *Mailpit) APIURL() string { return "http://127.0.0.1:" + strconv.Itoa(m.httpPort) }

// Logs is what mailpit printed.
func (m *Mailpit) Logs() string { return m.logs.String() }

func (m *Mailpit) start() error {
	cmd := exec.Command(m.bin,
		"--smtp", m.SMTPAddr(),
		"--listen", "127.0.0.1:"+strconv.Itoa(m.httpPort),
		"--database", filepath.Join(m.dir, "mailpit.db"),
		"--disable-version-check",
		"--smtp-auth-accept-any",
		"--smtp-auth-allow-insecure",
		"--smtp-disable-rdns",
	)
	cmd.Stdout, cmd.Stderr = m.logs, m.logs
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("mailpit: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	m.mu.Lock()
	m.cmd, m.done = cmd, done
	m.mu.Unlock()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("mailpit exited at start:\n%s", m.logs.String())
		default:
		}
		if _, err := m.Messages(); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-done
	return fmt.Errorf("mailpit did not answer within 15s:\n%s", m.logs.String())
}

// Stop stops the server (SMTP down); Restart brings it back on the same
// ports with the messages it had.
func (m *Mailpit) Stop() {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	stopProcess(cmd, done, syscall.SIGTERM, 5*time.Second)
}

// Restart starts the server again on the same ports.
func (m *Mailpit) Restart() {
	m.t.Helper()
	m.Stop()
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = m.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.t.Fatalf("harness: restarting mailpit: %v", err)
}

// Mail is one message as mailpit received it.
type Mail struct {
	ID string
	// MessageID is the Message-ID header without angle brackets.
	MessageID string
	From      string
	To        []string
	Subject   string
	Text      string
	HTML      string
}

type mpAddr struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

func (m *Mailpit) get(path string, v any) error {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(m.APIURL() + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// Messages lists every message, newest first, without bodies.
func (m *Mailpit) Messages() ([]Mail, error) {
	var list struct {
		Messages []struct {
			ID        string   `json:"ID"`
			MessageID string   `json:"MessageID"`
			From      mpAddr   `json:"From"`
			To        []mpAddr `json:"To"`
			Subject   string   `json:"Subject"`
		} `json:"messages"`
	}
	if err := m.get("/api/v1/messages?limit=500", &list); err != nil {
		return nil, err
	}
	out := make([]Mail, 0, len(list.Messages))
	for _, x := range list.Messages {
		ml := Mail{ID: x.ID, MessageID: x.MessageID, From: x.From.Address, Subject: x.Subject}
		for _, a := range x.To {
			ml.To = append(ml.To, a.Address)
		}
		out = append(out, ml)
	}
	return out, nil
}

// Message reads one message with its text and HTML bodies.
func (m *Mailpit) Message(id string) (*Mail, error) {
	var x struct {
		ID        string   `json:"ID"`
		MessageID string   `json:"MessageID"`
		From      mpAddr   `json:"From"`
		To        []mpAddr `json:"To"`
		Subject   string   `json:"Subject"`
		Text      string   `json:"Text"`
		HTML      string   `json:"HTML"`
	}
	if err := m.get("/api/v1/message/"+url.PathEscape(id), &x); err != nil {
		return nil, err
	}
	ml := &Mail{ID: x.ID, MessageID: x.MessageID, From: x.From.Address, Subject: x.Subject, Text: x.Text, HTML: x.HTML}
	for _, a := range x.To {
		ml.To = append(ml.To, a.Address)
	}
	return ml, nil
}

// MessagesTo returns the full messages addressed to `to`, newest first.
func (m *Mailpit) MessagesTo(to string) ([]*Mail, error) {
	list, err := m.Messages()
	if err != nil {
		return nil, err
	}
	var out []*Mail
	for _, s := range list {
		for _, a := range s.To {
			if strings.EqualFold(a, to) {
				full, err := m.Message(s.ID)
				if err != nil {
					return nil, err
				}
				out = append(out, full)
				break
			}
		}
	}
	return out, nil
}

// WaitFor waits until a message to `to` arrives and returns the newest; it
// fails the test after timeout.
func (m *Mailpit) WaitFor(to string, timeout time.Duration) *Mail {
	m.t.Helper()
	var got []*Mail
	var lastErr error
	ok, _ := Eventually(timeout, 50*time.Millisecond, func() bool {
		got, lastErr = m.MessagesTo(to)
		return len(got) > 0
	})
	if !ok {
		m.t.Fatalf("harness: no mail to %s within %v (last error: %v)\nmailpit logs:\n%s", to, timeout, lastErr, m.Logs())
	}
	return got[0]
}

// DeleteAll removes every message.
func (m *Mailpit) DeleteAll() error {
	req, _ := http.NewRequest(http.MethodDelete, m.APIURL()+"/api/v1/messages", nil)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit delete: %s", resp.Status)
	}
	return nil
}

var codeRE = regexp.MustCompile(`\b\d{6,8}\b`)

// Code is the first 6-8 digit number in the text body (a one-time code),
// or "".
func (ml *Mail) Code() string { return codeRE.FindString(ml.Text) }

// MailFrom is the sender address EmailOption configures.
const MailFrom = "caddyauth@example.test"

// EmailOption is the caddyauth option line that sends email to this
// mailpit (for GatewayConfig.AppOptions): SMTP without TLS, which the
// gateway accepts only with `plaintext` and warns about.
func (m *Mailpit) EmailOption() string {
	return "email smtp " + m.SMTPURL() + " {\n\t\t\tfrom " + MailFrom + "\n\t\t\tplaintext\n\t\t}"
}

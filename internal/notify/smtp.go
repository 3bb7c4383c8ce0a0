package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTPConfig configures the SMTP sender.
type SMTPConfig struct {
	// URL is smtp://[user:pass@]host[:port] (STARTTLS required, default
	// port 587) or smtps://... (implicit TLS, default port 465). Credentials
	// turn on SMTP AUTH.
	URL string
	// From is the sender address ("Example <no-reply@example.com>").
	From string
	// InsecureSkipVerify accepts any server certificate (local dev only).
	InsecureSkipVerify bool
	// Plaintext sends without any TLS: only for a local development server
	// such as mailpit. The Caddy glue logs a loud warning.
	Plaintext bool
	// Timeout bounds dialing and each SMTP command (default 30s).
	Timeout time.Duration
}

// SMTPSender delivers email through an SMTP server with go-mail. Each Send
// opens its own connection, so concurrent sends do not share state.
type SMTPSender struct {
	host string
	opts []gomail.Option
	from string
	// domain is the from address's domain: the right-hand side of the
	// Message-ID of every mail (RFC 5322 3.6.4).
	domain string
}

// NewSMTP validates cfg and returns the sender.
func NewSMTP(cfg SMTPConfig) (*SMTPSender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, errors.New("notify: smtp URL does not parse") // the URL may hold a password
	}
	if cfg.From == "" {
		return nil, errors.New("notify: smtp needs a from address")
	}
	fromAddr, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("notify: smtp from %q: %w", cfg.From, err)
	}
	_, domain, _ := strings.Cut(fromAddr.Address, "@")
	host := u.Hostname()
	if host == "" {
		return nil, errors.New("notify: smtp URL needs a host (smtp://user:pass@host:587)")
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	opts := []gomail.Option{gomail.WithTimeout(timeout)}
	// Greet with our host name: some servers score "localhost" as spam.
	if h, err := os.Hostname(); err == nil && h != "" && !strings.ContainsAny(h, " \r\n") {
		opts = append(opts, gomail.WithHELO(h))
	}
	var port int
	switch u.Scheme {
	case "smtp":
		port = 587
		if cfg.Plaintext {
			opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
		} else {
			opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
		}
	case "smtps":
		if cfg.Plaintext {
			return nil, errors.New("notify: smtps is implicit TLS: plaintext does not apply (use smtp://)")
		}
		port = 465
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("notify: smtp URL scheme %q: want smtp:// (STARTTLS) or smtps:// (implicit TLS)", u.Scheme)
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("notify: smtp port %q", p)
		}
	}
	opts = append(opts, gomail.WithPort(port),
		gomail.WithTLSConfig(&tls.Config{ServerName: host, InsecureSkipVerify: cfg.InsecureSkipVerify, MinVersion: tls.VersionTLS12})) //nolint:gosec // opt-in for local dev
	if user := u.User.Username(); user != "" {
		pass, _ := u.User.Password()
		auth := gomail.SMTPAuthAutoDiscover
		if cfg.Plaintext {
			auth = gomail.SMTPAuthPlainNoEnc // a local dev server over plain TCP
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(user), gomail.WithPassword(pass))
	} else {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthNoAuth))
	}
	s := &SMTPSender{host: host, opts: opts, from: cfg.From, domain: domain}
	if _, err := gomail.NewClient(host, opts...); err != nil {
		return nil, fmt.Errorf("notify: smtp: %w", err)
	}
	return s, nil
}

// Send delivers one email with a text body and an HTML alternative.
func (s *SMTPSender) Send(ctx context.Context, m Rendered) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return Permanent(fmt.Errorf("smtp from: %w", err))
	}
	if err := msg.To(m.To); err != nil {
		return Permanent(fmt.Errorf("smtp recipient: %w", err))
	}
	msg.Subject(m.Subject)
	if id := MessageID(m.ID, s.domain); id != "" {
		msg.SetMessageIDWithValue(id)
	} else {
		msg.SetMessageID()
	}
	msg.SetDate()
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	c, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	return nil
}

// MessageID is the Message-ID (without angle brackets) of the mail for
// outbox message id: "<id>.caddyauth@<domain>". It is derived from the
// outbox id alone, so every attempt at one message carries the same
// Message-ID: a retry after a send the server accepted but whose answer
// was lost (or a second instance's attempt after a lease ran out) is
// recognisable as the same mail by the server and the recipient's client.
// "" when id is empty or not a plain token (then a random one is used).
func MessageID(id, domain string) string {
	if id == "" || domain == "" || !dotAtom(id) || !dotAtom(domain) {
		return ""
	}
	return id + ".caddyauth@" + domain
}

// dotAtom reports whether s is made of letters, digits, '-' and '.'
// only: safe on either side of a Message-ID's '@'.
func dotAtom(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

package caddyauth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddyauth/gateway/internal/metrics"
	"github.com/caddyauth/gateway/internal/notify"
)

// SenderConfig is the `email` or `sms` option: how messages of that channel
// leave the outbox.
type SenderConfig struct {
	// Sender is "smtp" (email only), "webhook" or "log" (development only:
	// logs that a message was queued, never its content).
	Sender string `json:"sender"`
	// URL is the SMTP URL (smtp:// STARTTLS, smtps:// implicit TLS) or the
	// webhook URL. Placeholders are resolved.
	URL string `json:"url,omitempty"`
	// From is the email sender address (smtp).
	From string `json:"from,omitempty"`
	// Password replaces the password of the SMTP URL, so a secret with
	// characters a URL cannot hold comes from {env.X} or {file./path}.
	Password string `json:"password,omitempty"`
	// Secret signs webhook requests (HMAC-SHA256). Placeholders resolved.
	Secret string `json:"secret,omitempty"`
	// InsecureSkipVerify accepts any SMTP server certificate (dev only).
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
	// Plaintext talks SMTP without TLS (a local mailpit; dev only).
	Plaintext bool `json:"plaintext,omitempty"`
}

// outboxRetention is how long sent and dead messages stay for inspection.
const outboxRetention = 7 * 24 * time.Hour

// OutboxConfig tunes the delivery worker (`outbox { ... }`). Zero values
// keep the defaults.
type OutboxConfig struct {
	// SendTimeout bounds one delivery attempt: the SMTP dial and each
	// command, the webhook request (default 30s, 1s to 10m).
	SendTimeout caddy.Duration `json:"send_timeout,omitempty"`
	// Lease is how long a claimed message belongs to the instance that
	// claimed it (default send_timeout + 1m). It must outlast the send
	// timeout, or a second instance could send a message the first is
	// still sending. A message of an instance that dies is retried by
	// another once its lease has run out: a short lease is a quick
	// takeover.
	Lease caddy.Duration `json:"lease,omitempty"`
}

const (
	defaultSendTimeout = 30 * time.Second
	minSendTimeout     = time.Second
	maxSendTimeout     = 10 * time.Minute
	maxOutboxLease     = time.Hour
)

// times are the worker's send timeout and lease, defaults filled in
// (nil: the defaults).
func (c *OutboxConfig) times() (sendTimeout, lease time.Duration) {
	sendTimeout = defaultSendTimeout
	if c != nil && c.SendTimeout != 0 {
		sendTimeout = time.Duration(c.SendTimeout)
	}
	lease = sendTimeout + time.Minute
	if c != nil && c.Lease != 0 {
		lease = time.Duration(c.Lease)
	}
	return sendTimeout, lease
}

// checkOutbox judges the outbox block (nil: the defaults), so the parser
// and a JSON config meet the same rules.
func checkOutbox(c *OutboxConfig) error {
	if c == nil {
		return nil
	}
	if d := time.Duration(c.SendTimeout); d != 0 && (d < minSendTimeout || d > maxSendTimeout) {
		return fmt.Errorf("caddyauth: outbox send_timeout must be between 1s and 10m, not %s", d)
	}
	if d := time.Duration(c.Lease); d < 0 || d > maxOutboxLease {
		return fmt.Errorf("caddyauth: outbox lease must be at most 1h, not %s", d)
	}
	if st, lease := c.times(); lease <= st {
		return fmt.Errorf("caddyauth: outbox lease (%s) must be longer than send_timeout (%s): a message still being sent when its lease ran out could be sent again by another instance", lease, st)
	}
	return nil
}

// parseOutbox parses:
//
//	outbox {
//	    send_timeout <duration>   # default 30s, 1s to 10m
//	    lease <duration>          # default send_timeout + 1m, longer than send_timeout
//	}
func parseOutbox(d *caddyfile.Dispenser) (*OutboxConfig, error) {
	c := &OutboxConfig{}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch opt {
		case "send_timeout", "lease":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			dur, err := duration(d, "outbox "+opt, v)
			if err != nil {
				return nil, err
			}
			if dur <= 0 {
				return nil, d.Errf("caddyauth: outbox %s must be positive, not %q", opt, v)
			}
			if opt == "send_timeout" {
				c.SendTimeout = caddy.Duration(dur)
			} else {
				c.Lease = caddy.Duration(dur)
			}
		default:
			return nil, d.Errf("caddyauth: outbox: unknown option %q (want send_timeout or lease)", opt)
		}
		// Judged here, so the error names this line.
		if err := checkOutbox(c); err != nil {
			return nil, d.Err(err.Error())
		}
	}
	return c, nil
}

// describe is the sender as the startup log names it (no credentials).
func (c *SenderConfig) describe() string {
	if c == nil {
		return "none"
	}
	if c.Sender == "log" {
		return "log"
	}
	if u, err := url.Parse(c.URL); err == nil && u.Host != "" && !strings.Contains(c.URL, "{") {
		return c.Sender + " " + u.Scheme + "://" + u.Host
	}
	return c.Sender
}

// provisionNotify builds the outbox queue over the database and the worker
// that drains it. Without any sender, flows get no queue (they refuse to
// send codes, clearly).
func (a *App) provisionNotify(ctx caddy.Context) error {
	if a.Email == nil && a.SMS == nil {
		return nil
	}
	repl := caddy.NewReplacer()
	senders := map[string]notify.Sender{}
	var channels []string
	for _, ch := range []struct {
		name string
		cfg  *SenderConfig
	}{{notify.Email, a.Email}, {notify.SMS, a.SMS}} {
		if ch.cfg == nil {
			continue
		}
		s, err := a.buildSender(repl, ch.name, ch.cfg)
		if err != nil {
			return err
		}
		senders[ch.name] = s
		channels = append(channels, ch.name)
	}
	dir, err := repl.ReplaceOrErr(a.MessageTemplates, true, true)
	if err != nil {
		return fmt.Errorf("caddyauth: message_templates: %w", err)
	}
	tpl, err := notify.LoadTemplates(dir)
	if err != nil {
		return fmt.Errorf("caddyauth: message_templates: %w", err)
	}
	sealer, err := notify.NewSealer(a.ring.Key("outbox"), a.ring.VerifyKeys("outbox"))
	if err != nil {
		return fmt.Errorf("caddyauth: outbox: %w", err)
	}
	obs, err := metrics.NewOutbox(ctx.GetMetricsRegistry())
	if err != nil {
		return fmt.Errorf("caddyauth: metrics: %w", err)
	}
	sendTimeout, lease := a.Outbox.times()
	a.worker, err = notify.NewWorker(notify.WorkerConfig{
		Store: a.db, Sealer: sealer, Templates: tpl, Senders: senders,
		Logger: a.logger.Named("outbox"), Observer: obs,
		SendTimeout: sendTimeout, Lease: lease,
	})
	if err != nil {
		return fmt.Errorf("caddyauth: outbox: %w", err)
	}
	a.outbox = notify.NewOutbox(a.db, sealer, channels...)
	a.outbox.OnEnqueue(a.worker.Wake)
	return nil
}

func (a *App) buildSender(repl *caddy.Replacer, channel string, c *SenderConfig) (notify.Sender, error) {
	opt := channel // the Caddyfile option: "email" or "sms"
	sendTimeout, _ := a.Outbox.times()
	switch c.Sender {
	case "log":
		a.logger.Warn("DEVELOPMENT ONLY: " + opt + " log is set; messages are NOT delivered, only logged (kind, channel, masked recipient): nobody receives codes or links")
		return notify.LogSender{Logger: a.logger.Named("outbox")}, nil
	case "webhook":
		u, err := repl.ReplaceOrErr(c.URL, true, true)
		if err != nil {
			return nil, fmt.Errorf("caddyauth: %s webhook url: %w", opt, err)
		}
		secret, err := repl.ReplaceOrErr(c.Secret, true, true)
		if err != nil {
			return nil, fmt.Errorf("caddyauth: %s webhook secret: %w", opt, err)
		}
		if len(secret) < 16 {
			return nil, fmt.Errorf("caddyauth: %s webhook secret must be at least 16 characters", opt)
		}
		s, err := notify.NewWebhook(u, secret)
		if err != nil {
			return nil, fmt.Errorf("caddyauth: %s webhook: %w", opt, err)
		}
		s.SetTimeout(sendTimeout)
		return s, nil
	case "smtp":
		if channel != notify.Email {
			return nil, fmt.Errorf("caddyauth: %s smtp: SMTP delivers email only (use webhook)", opt)
		}
		raw, err := repl.ReplaceOrErr(c.URL, true, true)
		if err != nil {
			return nil, fmt.Errorf("caddyauth: email smtp url: %w", err)
		}
		if c.Password != "" {
			pw, err := repl.ReplaceOrErr(c.Password, true, true)
			if err != nil {
				return nil, fmt.Errorf("caddyauth: email smtp password: %w", err)
			}
			u, err := url.Parse(raw)
			if err != nil || u.User.Username() == "" {
				return nil, errors.New("caddyauth: email smtp password needs a user name in the URL (smtp://user@host:587)")
			}
			u.User = url.UserPassword(u.User.Username(), pw)
			raw = u.String()
		}
		s, err := notify.NewSMTP(notify.SMTPConfig{URL: raw, From: c.From, InsecureSkipVerify: c.InsecureSkipVerify, Plaintext: c.Plaintext, Timeout: sendTimeout})
		if err != nil {
			return nil, fmt.Errorf("caddyauth: email smtp: %w", err)
		}
		if c.Plaintext {
			a.logger.Warn("DEVELOPMENT ONLY: email smtp plaintext is set; mail, codes and SMTP credentials cross the network unencrypted. Use it only with a local test server such as mailpit")
		}
		if c.InsecureSkipVerify {
			a.logger.Warn("DEVELOPMENT ONLY: email smtp insecure_skip_verify is set; the SMTP server's certificate is not checked, so anyone on the path can read the mail")
		}
		return s, nil
	}
	return nil, fmt.Errorf("caddyauth: unknown %s sender %q", opt, c.Sender)
}

// queue is the flows' Outbox: nil (the flows' refusing default) when no
// sender is configured.
func (a *App) queue() notify.Queue {
	if a.outbox == nil {
		return nil
	}
	return a.outbox
}

// startNotify runs the worker and a daily purge of old sent/dead messages.
func (a *App) startNotify(ctx context.Context) {
	if a.worker == nil {
		return
	}
	a.worker.Start(ctx)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		t := time.NewTicker(6 * time.Hour)
		defer t.Stop()
		for {
			if _, err := a.db.PurgeOutbox(ctx, time.Now().Add(-outboxRetention)); err != nil && ctx.Err() == nil {
				a.logger.Warn("purging old outbox messages failed", zap.Error(err))
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func (a *App) stopNotify() {
	if a.worker != nil {
		a.worker.Stop()
	}
}

// parseSender parses the `email` and `sms` options:
//
//	email smtp <url> {
//	    from <address>
//	    password <secret>         # replaces the URL's password
//	    insecure_skip_verify      # dev only
//	    plaintext                 # dev only: no TLS at all (mailpit)
//	}
//	email webhook <url> {
//	    secret <secret>
//	}
//	email log                     # dev only
//	sms webhook <url> {
//	    secret <secret>
//	}
//	sms log                       # dev only
func parseSender(d *caddyfile.Dispenser, opt string) (*SenderConfig, error) {
	if !d.NextArg() {
		return nil, d.Errf("caddyauth: %s needs a sender: smtp <url>, webhook <url> or log", opt)
	}
	c := &SenderConfig{Sender: d.Val()}
	switch c.Sender {
	case "smtp":
		if opt != "email" {
			return nil, d.Errf("caddyauth: %s smtp: SMTP delivers email only; use %s webhook <url>", opt, opt)
		}
		fallthrough
	case "webhook":
		if !d.NextArg() {
			return nil, d.Errf("caddyauth: %s %s needs a URL", opt, c.Sender)
		}
		c.URL = d.Val()
	case "log":
	default:
		return nil, d.Errf("caddyauth: unknown %s sender %q (want smtp, webhook or log)", opt, c.Sender)
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		allowed := map[string][]string{
			"smtp":    {"from", "password", "insecure_skip_verify", "plaintext"},
			"webhook": {"secret"},
		}[c.Sender]
		ok := false
		for _, a := range allowed {
			ok = ok || a == sub
		}
		if !ok {
			return nil, d.Errf("caddyauth: unknown %s %s option %q", opt, c.Sender, sub)
		}
		switch sub {
		case "insecure_skip_verify", "plaintext":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			if sub == "plaintext" {
				c.Plaintext = true
			} else {
				c.InsecureSkipVerify = true
			}
		case "from", "password", "secret":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			switch sub {
			case "from":
				c.From = v
			case "password":
				c.Password = v
			default:
				c.Secret = v
			}
		}
	}
	if err := checkSender(opt, c); err != nil {
		return nil, d.Err(err.Error())
	}
	return c, nil
}

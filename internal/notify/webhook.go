package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/caddyauth/gateway/internal/webhooksig"
)

// Webhook signature headers: the scheme of internal/webhooksig, shared with
// the audit webhook.
const (
	HeaderTimestamp = webhooksig.HeaderTimestamp
	HeaderSignature = webhooksig.HeaderSignature
)

// WebhookPayload is the JSON body the webhook sender POSTs.
type WebhookPayload struct {
	ID      string `json:"id"` // stable across retries: deduplicate on it
	Kind    string `json:"kind"`
	Channel string `json:"channel"`
	To      string `json:"to"`
	UserID  string `json:"user_id,omitempty"`
	Subject string `json:"subject,omitempty"`
	Text    string `json:"text"`
	HTML    string `json:"html,omitempty"`
}

// WebhookSender POSTs each message as JSON to an HTTP endpoint (an SMS
// gateway, an email API, or a small adapter in front of one). Any answer
// but 2xx is a failure to retry.
type WebhookSender struct {
	url    string
	secret []byte
	client *http.Client
	now    func() time.Time
}

// NewWebhook checks the URL and returns the sender. secret signs each
// request; an empty secret is refused, since the receiver could not tell a
// forged message from ours.
func NewWebhook(rawURL, secret string) (*WebhookSender, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("notify: webhook URL %q must be an http(s) URL", rawURL)
	}
	if secret == "" {
		return nil, errors.New("notify: webhook needs a secret to sign requests")
	}
	return &WebhookSender{
		url:    u.String(),
		secret: []byte(secret),
		client: &http.Client{
			Timeout: 30 * time.Second,
			// A redirect would re-send the message somewhere else: treat
			// it as a failed attempt instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		now: time.Now,
	}, nil
}

// SetTimeout bounds each request (default 30s): the worker's send
// timeout, so neither cuts the other short. Call it before the first Send.
func (w *WebhookSender) SetTimeout(d time.Duration) {
	if d > 0 {
		w.client.Timeout = d
	}
}

// Sign computes the signature header value for a timestamp and body.
func Sign(secret []byte, timestamp string, body []byte) string {
	return webhooksig.Sign(secret, timestamp, body)
}

// VerifySignature is what a receiver does (exported for receivers written
// in Go and for tests): constant-time compare and a freshness window.
func VerifySignature(secret []byte, timestamp, signature string, body []byte, now time.Time, window time.Duration) bool {
	return webhooksig.Verify(secret, timestamp, signature, body, now, window)
}

// Send POSTs the message.
func (w *WebhookSender) Send(ctx context.Context, m Rendered) error {
	// Field by field: the payload is the receivers' contract, and a field
	// added to Rendered must not reach it by accident.
	body, err := json.Marshal(WebhookPayload{ //nolint:staticcheck // S1016, see above
		ID: m.ID, Kind: m.Kind, Channel: m.Channel, To: m.To, UserID: m.UserID,
		Subject: m.Subject, Text: m.Text, HTML: m.HTML,
	})
	if err != nil {
		return Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "caddyauth-outbox")
	req.Header.Set("Idempotency-Key", m.ID)
	webhooksig.SetHeaders(req, w.secret, body, w.now())
	resp, err := w.client.Do(req)
	if err != nil {
		// url.Error would print the whole URL, and a provider's URL may
		// carry an API key in its query: name only the host. The error is
		// logged and stored as the message's last_error.
		var ue *url.Error
		if errors.As(err, &ue) {
			return fmt.Errorf("webhook: %s %s: %w", ue.Op, req.URL.Host, ue.Err)
		}
		return fmt.Errorf("webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Not the response body: a provider may echo the message (and its
		// code), and this error is stored as the message's last_error.
		return fmt.Errorf("webhook: answered %s", resp.Status)
	}
	return nil
}

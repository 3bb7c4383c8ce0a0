package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/caddyauth/gateway/internal/webhooksig"
	"github.com/caddyauth/gateway/store"
)

// JSONRecord is the JSON form of a record: one line of the file sink, the
// body of a webhook POST, and `caddy auth audit tail --json`. MACs are hex.
type JSONRecord struct {
	Seq       int64             `json:"seq"`
	Time      time.Time         `json:"time"`
	Type      string            `json:"type"`
	UserID    string            `json:"user_id,omitempty"`
	Email     string            `json:"email,omitempty"`
	Actor     string            `json:"actor,omitempty"`
	IP        string            `json:"ip,omitempty"`
	UserAgent string            `json:"user_agent,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
	PrevMAC   string            `json:"prev_mac,omitempty"`
	MAC       string            `json:"mac"`
}

// ToJSON converts a record to its JSON form.
func ToJSON(r *store.AuditRecord) JSONRecord {
	return JSONRecord{
		Seq: r.Seq, Time: r.Time.UTC(), Type: r.Type, UserID: r.UserID, Email: r.Email, Actor: r.Actor,
		IP: r.IP, UserAgent: r.UserAgent, Reason: r.Reason, Detail: r.Detail,
		PrevMAC: hex.EncodeToString(r.PrevMAC), MAC: hex.EncodeToString(r.MAC),
	}
}

// FileSink appends one JSON line per record to a file (created 0600; an
// existing file keeps its permissions). Give it to a log shipper, or keep
// it on other storage as an anchor: its last line names the head of the
// chain, which `audit verify` compares with the database.
type FileSink struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// OpenFileSink opens (or creates) path for appending.
func OpenFileSink(path string) (*FileSink, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit file: %w", err)
	}
	return &FileSink{path: path, f: f}, nil
}

// Name implements Sink.
func (s *FileSink) Name() string { return "file" }

// Write implements Sink: one write(2) per line, so processes sharing the
// file do not interleave inside a line.
func (s *FileSink) Write(r *store.AuditRecord) error {
	b, err := json.Marshal(ToJSON(r))
	if err != nil {
		return err
	}
	b = append(b, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("audit file: closed")
	}
	if _, err := s.f.Write(b); err != nil {
		return fmt.Errorf("audit file %s: %w", s.path, err)
	}
	return nil
}

// Close implements Sink.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// anchorTail is how much of the end of a file ReadFileAnchor reads.
const anchorTail = 256 << 10

// ReadFileAnchor returns the highest seq (and its MAC) among the last
// lines of a file written by FileSink; ok is false when the file is
// missing or holds no record.
func ReadFileAnchor(path string) (seq int64, mac []byte, ok bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil, false, nil
	}
	if err != nil {
		return 0, nil, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, nil, false, err
	}
	off := max(st.Size()-anchorTail, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return 0, nil, false, err
	}
	lines := bytes.Split(b, []byte("\n"))
	if off > 0 && len(lines) > 0 {
		lines = lines[1:] // cut mid-line
	}
	for _, l := range lines {
		var r JSONRecord
		if len(bytes.TrimSpace(l)) == 0 || json.Unmarshal(l, &r) != nil {
			continue
		}
		m, err := hex.DecodeString(r.MAC)
		if err != nil || r.Seq < seq {
			continue
		}
		seq, mac, ok = r.Seq, m, true
	}
	return seq, mac, ok, nil
}

// SignatureHeader and TimestampHeader sign each webhook body with the
// scheme of internal/webhooksig (the same as the message webhooks):
// HMAC-SHA256(secret, timestamp + "." + body).
const (
	SignatureHeader = webhooksig.HeaderSignature
	TimestampHeader = webhooksig.HeaderTimestamp
)

// WebhookOptions configure a WebhookSink.
type WebhookOptions struct {
	URL    string
	Secret []byte // signs each body (SignatureHeader)
	// Queue bounds the records waiting for delivery (default 1000); when
	// full, new records are dropped and reported.
	Queue int
	// Attempts per record (default 5), with Backoff doubling between them
	// (default 1s).
	Attempts int
	Backoff  time.Duration
	// Timeout per POST (default 10s).
	Timeout time.Duration
	Client  *http.Client
	// OnError reports a record given up on (after every attempt) or
	// dropped because the queue was full.
	OnError func(err error)
}

// WebhookSink POSTs each record as JSON from a background goroutine: Write
// only enqueues, so a slow or dead receiver never delays a login.
type WebhookSink struct {
	o      WebhookOptions
	q      chan *store.AuditRecord
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.RWMutex // guards closed against Write racing Close
	closed bool
}

// NewWebhookSink starts the delivery goroutine.
func NewWebhookSink(o WebhookOptions) *WebhookSink {
	if o.Queue <= 0 {
		o.Queue = 1000
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.OnError == nil {
		o.OnError = func(error) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &WebhookSink{o: o, q: make(chan *store.AuditRecord, o.Queue), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go s.run()
	return s
}

// Name implements Sink.
func (s *WebhookSink) Name() string { return "webhook" }

// Write implements Sink: it never blocks.
func (s *WebhookSink) Write(r *store.AuditRecord) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errors.New("audit webhook: closed")
	}
	select {
	case s.q <- r:
		return nil
	default:
		return fmt.Errorf("audit webhook: queue full (%d records waiting): record %d dropped", cap(s.q), r.Seq)
	}
}

// closeGrace is how long Close lets the queue drain.
const closeGrace = 5 * time.Second

// Close stops accepting records, delivers what is queued for up to
// closeGrace, then gives up on the rest.
func (s *WebhookSink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.q)
	s.mu.Unlock()
	select {
	case <-s.done:
	case <-time.After(closeGrace):
		s.cancel()
		<-s.done
	}
	s.cancel()
	return nil
}

func (s *WebhookSink) run() {
	defer close(s.done)
	for r := range s.q {
		if err := s.deliver(r); err != nil {
			s.o.OnError(err)
		}
	}
}

func (s *WebhookSink) deliver(r *store.AuditRecord) error {
	body, err := json.Marshal(ToJSON(r))
	if err != nil {
		return err
	}
	wait := s.o.Backoff
	var last error
	for i := 0; i < s.o.Attempts; i++ {
		if i > 0 {
			select {
			case <-s.ctx.Done():
				return fmt.Errorf("audit webhook: record %d not delivered (shutting down): %w", r.Seq, last)
			case <-time.After(wait):
			}
			wait *= 2
		}
		if last = s.post(body); last == nil {
			return nil
		}
	}
	return fmt.Errorf("audit webhook: record %d not delivered after %d attempts: %w", r.Seq, s.o.Attempts, last)
}

func (s *WebhookSink) post(body []byte) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.o.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "caddyauth-audit/1")
	webhooksig.SetHeaders(req, s.o.Secret, body, time.Now())
	resp, err := s.o.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// The URL may carry a token: name it without its query.
			return fmt.Errorf("POST %s: %w", redactURL(s.o.URL), ue.Err)
		}
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// redactURL drops userinfo, query and fragment, which may hold a token.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(webhook url)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/caddyauth/gateway/store"
)

// KeyPurpose is the key ring purpose of the chain MACs:
// ring.Key(KeyPurpose) seals, ring.VerifyKeys(KeyPurpose) verifies.
const KeyPurpose = "audit"

// encodingTag starts every canonical encoding; a new encoding gets a new tag.
const encodingTag = "caddyauth-audit-v1\x00"

// Field limits: an event is a few facts, not a document. Longer values are
// cut (at a rune boundary) before they are sealed.
const (
	maxField      = 256
	maxUserAgent  = 512
	maxDetail     = 16
	maxDetailText = 256
)

// Canonical is the byte string a record's MAC covers (before PrevMAC):
// a version tag, seq and time (Unix ms) as 8-byte big-endian integers, then
// type, user id, email, actor, ip, user agent and reason, each as a 4-byte
// big-endian length and its bytes, then the number of detail entries and
// each key and value (keys sorted) the same way. Every field carries its
// length, so no two different records share an encoding; PrevMAC follows
// the self-delimiting prefix.
func Canonical(r *store.AuditRecord) []byte {
	n := len(encodingTag) + 16 + 4*9
	for _, s := range []string{r.Type, r.UserID, r.Email, r.Actor, r.IP, r.UserAgent, r.Reason} {
		n += len(s)
	}
	keys := make([]string, 0, len(r.Detail))
	for k, v := range r.Detail {
		keys = append(keys, k)
		n += 8 + len(k) + len(v)
	}
	slices.Sort(keys)
	b := make([]byte, 0, n)
	b = append(b, encodingTag...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UnixMilli()))
	for _, s := range []string{r.Type, r.UserID, r.Email, r.Actor, r.IP, r.UserAgent, r.Reason} {
		b = appendString(b, s)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, r.Detail[k])
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// MAC is HMAC-SHA256(key, Canonical(r) || r.PrevMAC).
func MAC(key []byte, r *store.AuditRecord) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(Canonical(r))
	h.Write(r.PrevMAC)
	return h.Sum(nil)
}

// Sink receives every record after the database stored it: an extra copy
// (file, webhook) for people and systems outside the database. A sink must
// not block for long; a failure is reported, never fatal.
type Sink interface {
	Name() string
	Write(rec *store.AuditRecord) error
	Close() error
}

// Options configure a Chain.
type Options struct {
	// Key seals new records (ring.Key(KeyPurpose)).
	Key []byte
	// Sinks get a copy of each stored record, in order.
	Sinks []Sink
	// OnSinkError is called when a sink fails (log and count it).
	OnSinkError func(sink string, err error)
	// Now defaults to time.Now.
	Now func() time.Time
}

// Chain is the Recorder that appends events to the tamper-evident chain in
// a store.AuditStore and copies them to the sinks.
type Chain struct {
	st    store.AuditStore
	key   []byte
	sinks []Sink
	onErr func(string, error)
	now   func() time.Time
	// mu orders this process's appends and sink writes, so each sink sees
	// records in sequence order and goroutines queue here instead of
	// spinning on the database lock.
	mu sync.Mutex
}

var _ Recorder = (*Chain)(nil)

// NewChain returns a Chain over st.
func NewChain(st store.AuditStore, o Options) (*Chain, error) {
	if len(o.Key) < 32 {
		return nil, fmt.Errorf("audit: the chain key must be at least 32 bytes")
	}
	c := &Chain{st: st, key: slices.Clone(o.Key), sinks: o.Sinks, onErr: o.OnSinkError, now: o.Now}
	if c.now == nil {
		c.now = time.Now
	}
	if c.onErr == nil {
		c.onErr = func(string, error) {}
	}
	return c, nil
}

// Record seals e into the next record and stores it, then hands it to the
// sinks. It returns the store's error; sink errors go to OnSinkError.
func (c *Chain) Record(ctx context.Context, e Event) error {
	_, err := c.Append(ctx, e)
	return err
}

// Append is Record returning the stored record.
func (c *Chain) Append(ctx context.Context, e Event) (*store.AuditRecord, error) {
	if e.Time.IsZero() {
		e.Time = c.now()
	}
	rec := recordOf(e)
	c.mu.Lock()
	defer c.mu.Unlock()
	stored, err := c.st.AppendAudit(ctx, func(head *store.AuditRecord) (*store.AuditRecord, error) {
		r := *rec
		r.Seq, r.PrevMAC = 1, nil
		if head != nil {
			r.Seq, r.PrevMAC = head.Seq+1, slices.Clone(head.MAC)
		}
		r.MAC = MAC(c.key, &r)
		return &r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: %s not recorded: %w", e.Type, err)
	}
	for _, s := range c.sinks {
		if err := s.Write(stored); err != nil {
			c.onErr(s.Name(), err)
		}
	}
	return stored, nil
}

// Close closes the sinks (the webhook drains its queue for a moment).
func (c *Chain) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for _, s := range c.sinks {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// SinkNames lists the configured sinks, database first.
func (c *Chain) SinkNames() []string {
	names := []string{"database"}
	for _, s := range c.sinks {
		names = append(names, s.Name())
	}
	return names
}

// recordOf turns an event into the unsealed record: valid UTF-8, bounded
// sizes, millisecond time (what every store keeps), and detail values
// whose key names a secret replaced by "[redacted]".
func recordOf(e Event) *store.AuditRecord {
	r := &store.AuditRecord{
		Time:      time.UnixMilli(e.Time.UnixMilli()).UTC(),
		Type:      clean(e.Type, maxField),
		UserID:    clean(e.UserID, maxField),
		Email:     clean(e.Email, maxField),
		Actor:     clean(e.Actor, maxField),
		IP:        clean(e.IP, maxField),
		UserAgent: clean(e.UserAgent, maxUserAgent),
		Reason:    clean(e.Reason, maxField),
	}
	if len(e.Detail) > 0 {
		keys := make([]string, 0, len(e.Detail))
		for k := range e.Detail {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if len(keys) > maxDetail {
			keys = keys[:maxDetail]
		}
		r.Detail = make(map[string]string, len(keys))
		for _, k := range keys {
			v := clean(e.Detail[k], maxDetailText)
			if secretKey(k) {
				v = "[redacted]"
			}
			r.Detail[clean(k, maxField)] = v
		}
	}
	return r
}

// secretKey reports a detail key that names a secret. Events must never
// carry one; this is the backstop for a careless caller.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"password", "passwd", "secret", "token", "otp", "code", "cookie", "authorization", "api_key", "apikey"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// clean makes s valid UTF-8 (stores and JSON would otherwise rewrite it and
// break the MAC) and cuts it to at most n bytes at a rune boundary.
func clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Break kinds: what the first broken link says happened.
const (
	BrokenEdited   = "edited"    // MAC does not match the content
	BrokenDeleted  = "deleted"   // sequence numbers skip
	BrokenRelinked = "relinked"  // prev_mac does not match the record before: inserted or reordered
	BrokenTruncate = "truncated" // an external anchor has records the store lacks
)

// Break is the first broken link of a chain.
type Break struct {
	Seq  int64  // the record at fault (for deleted: the first missing one)
	Kind string // Broken*
	Msg  string
}

func (b *Break) Error() string { return b.Msg }

// Report is the result of Verify.
type Report struct {
	Records int64
	Head    *store.AuditRecord // last record read (nil when empty)
	// PreviousKey counts records that verified only with the previous
	// secret's key (made before a rotation).
	PreviousKey int64
	Broken      *Break // nil when intact
}

// verifyPage is how many records Verify reads at a time.
const verifyPage = 1000

// Verify walks the whole chain in sequence order and reports the first
// broken link. keys are ring.VerifyKeys(KeyPurpose): a record verifies
// with any of them, so a rotation with previous_secret does not break it.
// The checks, in order, for each record: its seq follows the previous one
// (a gap means deleted records), its prev_mac equals the previous record's
// MAC (a mismatch means a record was inserted or records were reordered),
// its MAC matches its content (a mismatch means it was edited or forged).
// Deleting records at the end (truncation) leaves a valid shorter chain;
// only an external anchor (CheckAnchor) detects it.
func Verify(ctx context.Context, st store.AuditStore, keys [][]byte) (*Report, error) {
	rep := &Report{}
	var prev *store.AuditRecord
	var after int64 // 0: from the start
	for {
		page, err := st.ListAudit(ctx, store.AuditFilter{AfterSeq: after, Limit: verifyPage})
		if err != nil {
			return nil, err
		}
		for _, r := range page {
			if b := checkLink(prev, r, keys, rep); b != nil {
				// A broken link is the report's finding, not a failure to verify.
				rep.Broken = b
				return rep, nil //nolint:nilerr // see above
			}
			rep.Records++
			rep.Head, prev = r, r
		}
		if len(page) < verifyPage {
			return rep, nil
		}
		after = page[len(page)-1].Seq
	}
}

func checkLink(prev, r *store.AuditRecord, keys [][]byte, rep *Report) *Break {
	want := int64(1)
	var wantPrev []byte
	if prev != nil {
		want, wantPrev = prev.Seq+1, prev.MAC
	}
	switch {
	case r.Seq > want:
		missing := fmt.Sprintf("record %d is missing", want)
		if r.Seq > want+1 {
			missing = fmt.Sprintf("records %d to %d are missing", want, r.Seq-1)
		}
		return &Break{
			Seq: want, Kind: BrokenDeleted,
			Msg: fmt.Sprintf("record %d: deleted: %s (sequence gap; the chain resumes at %d)", want, missing, r.Seq),
		}
	case r.Seq < want:
		return &Break{
			Seq: r.Seq, Kind: BrokenRelinked,
			Msg: fmt.Sprintf("record %d: out of order: expected sequence number %d (record inserted or reordered)", r.Seq, want),
		}
	}
	if !hmac.Equal(r.PrevMAC, wantPrev) {
		what := "does not match the MAC of record " + fmt.Sprint(want-1)
		if prev == nil {
			what = "is set on the first record"
		}
		return &Break{
			Seq: r.Seq, Kind: BrokenRelinked,
			Msg: fmt.Sprintf("record %d: broken link: its previous-MAC %s (record inserted or records reordered)", r.Seq, what),
		}
	}
	for i, k := range keys {
		if hmac.Equal(MAC(k, r), r.MAC) {
			if i > 0 {
				rep.PreviousKey++
			}
			return nil
		}
	}
	return &Break{
		Seq: r.Seq, Kind: BrokenEdited,
		Msg: fmt.Sprintf("record %d: MAC mismatch: the record was edited or forged (or sealed with a secret that is neither secret nor previous_secret)", r.Seq),
	}
}

// CheckAnchor compares an intact report with a record known from outside
// the store (the last line of the file sink, a webhook receiver, a note
// taken after the last verify): the store must still hold record seq with
// that MAC. mac may be a prefix of at least 8 bytes (verify prints 8).
// It returns the Break, or nil when the anchor matches.
func CheckAnchor(ctx context.Context, st store.AuditStore, rep *Report, seq int64, mac []byte) (*Break, error) {
	if seq < 1 || len(mac) < 8 {
		return nil, fmt.Errorf("audit: an anchor needs a sequence number and at least 8 bytes of MAC")
	}
	if rep.Head == nil || rep.Head.Seq < seq {
		have := int64(0)
		if rep.Head != nil {
			have = rep.Head.Seq
		}
		return &Break{
			Seq: have + 1, Kind: BrokenTruncate,
			Msg: fmt.Sprintf("record %d: truncated: the anchor has records up to %d but the database ends at %d", have+1, seq, have),
		}, nil
	}
	recs, err := st.ListAudit(ctx, store.AuditFilter{AfterSeq: seq - 1, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 || recs[0].Seq != seq || len(recs[0].MAC) < len(mac) || !hmac.Equal(recs[0].MAC[:len(mac)], mac) {
		return &Break{
			Seq: seq, Kind: BrokenRelinked,
			Msg: fmt.Sprintf("record %d: does not match the anchor (MAC %s...): the chain was rewritten from here or earlier", seq, hex.EncodeToString(mac)[:min(16, 2*len(mac))]),
		}, nil
	}
	return nil, nil
}

package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
)

// Kinds lists every message kind; each has embedded templates.
var Kinds = []string{
	KindVerifyEmail, KindVerifyPhone, KindPasswordless, KindPasswordReset, KindMFACode, KindInvitation,
	KindEmailVerified, KindPasswordChanged, KindNewSignIn, KindRecoveryCodeUsed, KindAccountLocked,
	KindAccountExists, KindEmailChangeRequested,
	KindAccountDeleted,
}

// Template data keys the embedded templates read. Flows may add others for
// their own templates.
const (
	DataCode      = "code"       // one-time code
	DataLink      = "link"       // magic, reset, verification or invitation link
	DataName      = "name"       // the user's display name
	DataSite      = "site"       // the site or portal name shown to the user
	DataExpires   = "expires"    // how long the code or link lasts ("10 minutes")
	DataIP        = "ip"         // new sign-in: client address
	DataUserAgent = "user_agent" // new sign-in: browser
	DataTime      = "time"       // when it happened (already formatted)
	DataInviter   = "inviter"    // invitation: who invited
)

// ErrNoSender is returned by Enqueue for a channel that has no sender
// configured: the flow learns at once instead of a message rotting.
var ErrNoSender = errors.New("notify: no sender is configured for this channel")

// Outbox is the Queue the flows write to: Enqueue seals the data and writes
// one row; it never talks to a mail server, so a slow provider cannot stall
// a request.
type Outbox struct {
	store    store.OutboxStore
	sealer   *Sealer
	channels []string
	now      func() time.Time
	wake     func()
}

var _ Queue = (*Outbox)(nil)

// NewOutbox builds the queue over st for the channels that have a sender.
func NewOutbox(st store.OutboxStore, s *Sealer, channels ...string) *Outbox {
	return &Outbox{store: st, sealer: s, channels: channels, now: time.Now, wake: func() {}}
}

// Has reports whether channel has a sender (flows offer email or SMS codes
// only then).
func (o *Outbox) Has(channel string) bool { return slices.Contains(o.channels, channel) }

// OnEnqueue sets a function called after each successful Enqueue (the
// local worker's Wake, so a message in this process goes out at once).
func (o *Outbox) OnEnqueue(f func()) { o.wake = f }

// Enqueue validates m, seals its data and stores it. It returns nil only
// once the message is durable.
func (o *Outbox) Enqueue(ctx context.Context, m Message) error {
	row, err := o.Prepare(m)
	if err != nil {
		return err
	}
	if err := o.store.EnqueueMessage(ctx, row); err != nil {
		return fmt.Errorf("notify: enqueue: %w", err)
	}
	o.wake()
	return nil
}

// Prepare is Enqueue without the write: it validates m and returns the
// sealed row, for a caller that stores it in a transaction of its own
// with other rows (store.InvitationStore) and then calls Wake.
func (o *Outbox) Prepare(m Message) (*store.OutboxMessage, error) {
	if err := validate(m); err != nil {
		return nil, err
	}
	if !slices.Contains(o.channels, m.Channel) {
		return nil, fmt.Errorf("%w: %s", ErrNoSender, m.Channel)
	}
	id := keys.NewID()
	payload, err := o.sealer.Seal(binding(id, m.Kind, m.Channel, m.To, m.UserID), m.Data)
	if err != nil {
		return nil, fmt.Errorf("notify: seal: %w", err)
	}
	now := o.now()
	return &store.OutboxMessage{
		ID: id, Kind: m.Kind, Channel: m.Channel, Recipient: m.To, UserID: m.UserID,
		Payload: payload, CreatedAt: now, NextAttemptAt: now,
	}, nil
}

// Wake tells the local worker a message was stored (after a Prepare'd
// row committed).
func (o *Outbox) Wake() { o.wake() }

func validate(m Message) error {
	if !slices.Contains(Kinds, m.Kind) {
		return fmt.Errorf("notify: unknown message kind %q", m.Kind)
	}
	if m.Channel != Email && m.Channel != SMS {
		return fmt.Errorf("notify: unknown channel %q", m.Channel)
	}
	// A recipient becomes an SMTP envelope address and a header: no line
	// breaks or controls (header injection), and a sane length.
	if m.To == "" || len(m.To) > 320 || strings.ContainsFunc(m.To, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return errors.New("notify: recipient is empty, too long or has control characters")
	}
	return nil
}

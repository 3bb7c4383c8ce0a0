package notify

import (
	"context"
	"errors"
	"strings"

	"go.uber.org/zap"
)

// Sender delivers one rendered message. An error means "try again later"
// (the worker retries with backoff) unless it is wrapped by Permanent.
type Sender interface {
	Send(ctx context.Context, m Rendered) error
}

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks an error that no retry can fix: the message goes dead at
// once.
func Permanent(err error) error { return permanent{err} }

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// LogSender is the development sender: it logs that a message was sent,
// with its kind, channel and a masked recipient, and NEVER its content (the
// code or link). Nobody receives anything.
type LogSender struct{ Logger *zap.Logger }

// Send logs the message's metadata.
func (l LogSender) Send(_ context.Context, m Rendered) error {
	l.Logger.Info("message not sent: log sender (development only)",
		zap.String("id", m.ID),
		zap.String("kind", m.Kind),
		zap.String("channel", m.Channel),
		zap.String("to", MaskRecipient(m.To)))
	return nil
}

// MaskRecipient keeps enough of an address or number to tell messages
// apart in a log, and not enough to identify the person: "a***@example.com",
// "+33******89".
func MaskRecipient(to string) string {
	if local, domain, ok := strings.Cut(to, "@"); ok {
		if local == "" {
			return "***@" + domain
		}
		r := []rune(local)
		return string(r[0]) + "***@" + domain
	}
	r := []rune(to)
	if len(r) <= 4 {
		return strings.Repeat("*", len(r))
	}
	keepHead := 3
	if len(r) < 8 {
		keepHead = 1
	}
	return string(r[:keepHead]) + strings.Repeat("*", len(r)-keepHead-2) + string(r[len(r)-2:])
}

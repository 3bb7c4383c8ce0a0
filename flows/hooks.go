package flows

import (
	"context"
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/notify"
)

// MethodSwitch tells whether an auth method ("password", "oauth:<name>",
// "passwordless", "registration") is enabled right now. Operators flip
// these at runtime during an incident.
type MethodSwitch interface {
	Enabled(ctx context.Context, method string) (bool, error)
}

type noOutbox struct{}

func (noOutbox) Enqueue(context.Context, notify.Message) error { return errNoOutbox }
func (noOutbox) Has(string) bool                               { return false }

var errNoOutbox = errors.New("no email or SMS sender is configured")

type allMethods struct{}

func (allMethods) Enabled(context.Context, string) (bool, error) { return true, nil }

// audit records a security event with the request's address and agent. A
// recorder failure is logged, not returned: the event already happened.
func (s *Service) audit(r *http.Request, e audit.Event) {
	if e.IP == "" {
		e.IP = s.cfg.ClientIP(r)
	}
	if e.UserAgent == "" {
		e.UserAgent = r.UserAgent()
	}
	if e.Time.IsZero() {
		e.Time = s.cfg.Now()
	}
	if err := s.deps.Audit.Record(context.WithoutCancel(r.Context()), e); err != nil {
		s.log.Error("audit record not written", zap.String("event", e.Type), zapErr(err))
	}
}

// notify queues a message; a failure is logged (the flow has already
// answered or will answer without waiting on delivery).
func (s *Service) notify(ctx context.Context, m notify.Message) error {
	err := s.deps.Outbox.Enqueue(context.WithoutCancel(ctx), m)
	if err != nil {
		s.log.Error("message not queued", zap.String("kind", m.Kind), zap.String("channel", m.Channel), zapErr(err))
	}
	return err
}

// methodEnabled reports whether an auth method may be used now; a store
// failure counts as disabled (fail closed) and is logged.
func (s *Service) methodEnabled(ctx context.Context, method string) bool {
	return s.methodGate(ctx, method, nil) == nil
}

// methodGate is methodEnabled for the endpoints that answer the refusal:
// off is the given error, an unreadable switch errStoreUnavailable (503),
// so an outage never reads as "turned off" to users and monitors.
func (s *Service) methodGate(ctx context.Context, method string, off *APIError) *APIError {
	ok, err := s.deps.Methods.Enabled(ctx, method)
	if err != nil {
		s.log.Error("auth method switch unreadable; treating as disabled", zap.String("method", method), zapErr(err))
		return errStoreUnavailable
	}
	if !ok {
		if off == nil {
			off = errMethodDisabled
		}
		return off
	}
	return nil
}

// firstFactor is how a user proved who they are before any second factor.
type firstFactor struct {
	Method string // "password", "oauth:<provider>", "passwordless"
	// IdPMFA: the identity provider asserted a multi-factor login (amr/acr)
	// and the operator trusts it to satisfy the MFA policy.
	IdPMFA bool
}

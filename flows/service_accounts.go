package flows

import (
	"context"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddyauth/gateway/internal/audit"
)

// Accounts is the account service over the server's stores: what the
// admin API, the setup page and the CLI's shared logic call.
func (s *Service) Accounts() *Accounts {
	return &Accounts{
		Users: s.deps.Users, MFA: s.deps.MFA, APIKeys: s.deps.APIKeys, Sessions: s.deps.Sessions, Lockouts: s,
		Hasher: s.deps.Hasher, Audit: loggedRecorder{s}, Now: s.cfg.Now, ContextWords: s.cfg.ContextWords,
		Breach: s.cfg.Breach,
	}
}

// actor is who is calling r, with the address and agent the audit
// trail keeps.
func (s *Service) actor(r *http.Request, id string) Actor {
	return Actor{ID: id, IP: s.cfg.ClientIP(r), UserAgent: r.UserAgent()}
}

// loggedRecorder logs a recorder failure, as Service.audit does: the
// event already happened.
type loggedRecorder struct{ s *Service }

func (l loggedRecorder) Record(ctx context.Context, e audit.Event) error {
	if err := l.s.deps.Audit.Record(ctx, e); err != nil {
		l.s.log.Error("audit record not written", zap.String("event", e.Type), zapErr(err))
	}
	return nil
}

package caddyauth

import (
	"context"
	"errors"
	"time"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/password"
)

// accounts is the account service over the CLI's stores: the same rules
// and audit trail as the admin API, with actor "cli". Sessions are ended
// in the configured session store and running instances told (Redis
// pub/sub); the lockout is lifted in the shared database.
func (e *cliEnv) accounts() *flows.Accounts {
	return &flows.Accounts{
		Users: e.db, MFA: e.db, APIKeys: e.db, Sessions: revokerFunc(e.revokeSessions),
		Lockouts: flows.StoreLockouts{Store: e.db, Now: time.Now},
		Hasher:   password.New(password.DefaultParams, 1), Audit: cliRecorder{e}, Now: time.Now,
		ContextWords: e.app.ContextWords, Breach: e.breach,
	}
}

// cliActor is who the CLI acts as in the audit trail.
var cliActor = flows.Actor{ID: flows.ActorCLI}

// revokerFunc lets a function be the service's SessionRevoker.
type revokerFunc func(ctx context.Context, userID string) (int, error)

func (f revokerFunc) RevokeUser(ctx context.Context, userID string) (int, error) {
	return f(ctx, userID)
}

// cliRecorder records through cliEnv.record, which reports a failure on
// stderr: the action has already happened.
type cliRecorder struct{ e *cliEnv }

func (r cliRecorder) Record(ctx context.Context, ev audit.Event) error {
	r.e.record(ctx, ev)
	return nil
}

// missedStep is the cause of the failed step when err reports a change
// that stands with a step missing (flows.IncompleteError), else nil.
func missedStep(err error) error {
	var inc *flows.IncompleteError
	if errors.As(err, &inc) {
		return inc.Err
	}
	return nil
}

// Interface guards.
var (
	_ flows.SessionRevoker = revokerFunc(nil)
	_ audit.Recorder       = cliRecorder{}
)

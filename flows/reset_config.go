package flows

import (
	"context"
	"net/http"
	"time"

	"github.com/caddyauth/gateway/internal/ratelimit"
)

// PasswordResetConfig turns forgot/reset password on (the caddyauth app:
// whenever an email or SMS sender exists, unless `password_reset off`).
type PasswordResetConfig struct {
	On bool
	// TTL is how long a reset link and its code live (default 15m).
	TTL time.Duration
}

// MethodPasswordReset is the runtime switch of the reset flow (CLI and
// admin API), beside "password" and the providers.
const MethodPasswordReset = "password_reset"

// Defaults of the recovery flows.
const (
	defaultResetTTL = 15 * time.Minute
	// defaultSendFloor is the least time an answer to a send request
	// (forgot-password) takes, so that the work done for a known account
	// (a grant written, a message queued) cannot be timed against an
	// unknown one. Far above that work, far below a user's patience.
	defaultSendFloor = 400 * time.Millisecond
	// grantCodeTries: a code dies after five wrong ones (NIST 800-63B
	// 5.2.2 bounds guessing; 5 of 10^6 is a 0.0005% chance per grant).
	grantCodeTries = 5
	resetPurpose   = "password_reset"
)

func (c *PasswordResetConfig) setDefaults() {
	if c.TTL <= 0 {
		c.TTL = defaultResetTTL
	}
}

// resetKind is the reset grant: a link and a code, 5 tries.
func (s *Service) resetKind() grantKind {
	return grantKind{Purpose: resetPurpose, TTL: s.cfg.PasswordReset.TTL, Code: true, Tries: grantCodeTries}
}

// resetOn reports whether the reset flow is offered now: configured, and
// not switched off at runtime (an unreadable switch counts as off).
func (s *Service) resetOn(ctx context.Context) bool {
	return s.cfg.PasswordReset.On && s.methodEnabled(ctx, MethodPasswordReset)
}

// recoveryLimiters are the buckets of the recovery flows, per client
// address and per identifier: sends (a flood of mail to a victim, a cost
// to the operator) and checks of a token or code.
type recoveryLimiters struct {
	sendIP, sendID, checkIP, checkID ratelimit.Limiter
}

func newRecoveryLimiters(l Limits, mk NewLimiter) recoveryLimiters {
	return recoveryLimiters{
		sendIP:  mk("recovery_send_ip", l.RecoverySendIP),
		sendID:  mk("recovery_send_identifier", l.RecoverySend),
		checkIP: mk("recovery_check_ip", l.RecoveryCheckIP),
		checkID: mk("recovery_check_identifier", l.RecoveryCheck),
	}
}

// pad holds the answer until floor has passed since start (or the client
// left), so every identifier takes the same time to answer.
func (s *Service) pad(r *http.Request, start time.Time) {
	floor := s.cfg.SendFloor
	if floor <= 0 {
		return
	}
	d := floor - time.Since(start)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

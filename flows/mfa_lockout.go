package flows

import (
	"net/http"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

// mfaLockKey is the lockout "address" of an account's second-factor lock:
// one per account whatever the client address, so new logins from new
// addresses do not buy new guesses.
const mfaLockKey = "mfa"

var errMFALocked = apiErr(http.StatusTooManyRequests, CodeAccountLocked, "Too many wrong codes for this account. Try again later, or ask an administrator to unlock it.")

// mfaAllow spends one token of u's bucket in lim; when it is empty it
// answers 429 RATE_LIMITED through fail (a store error: 503) and reports
// false.
func (p *portal) mfaAllow(w http.ResponseWriter, r *http.Request, lim ratelimit.Limiter, kind string, u *store.User, now time.Time, fail func(*APIError)) bool {
	allowed, wait, err := lim.Allow(r.Context(), u.ID, now)
	if err != nil {
		p.s.storeFailure(w, r, "rate limit", err)
		return false
	}
	if !allowed {
		p.s.obs.Limited(kind)
		p.s.audit(r, audit.Event{Type: audit.RateLimited, UserID: u.ID, Email: u.Email, Reason: kind})
		retryAfter(w, wait)
		fail(errMFARateLimited)
	}
	return allowed
}

// mfaLocked answers (through fail) when the account's second factor is
// locked, and reports whether it did.
func (p *portal) mfaLocked(w http.ResponseWriter, r *http.Request, u *store.User, now time.Time, fail func(*APIError)) bool {
	locked, wait, err := p.s.limits.mfaLock.Locked(r.Context(), u.Email, mfaLockKey, now)
	if err != nil {
		p.s.storeFailure(w, r, "mfa lockout", err)
		return true
	}
	if !locked {
		return false
	}
	p.s.obs.Limited("mfa_lockout")
	retryAfter(w, wait)
	fail(errMFALocked)
	return true
}

// mfaLockedNow records that wrong codes just locked the account's second
// factor: audit, a notice to the user (someone has their password), and
// the stage ends.
func (p *portal) mfaLockedNow(r *http.Request, u *store.User, id *session.Identity, tok string) {
	ctx := r.Context()
	p.s.log.Warn("second factor locked for this account after repeated wrong codes", zapUser(u.ID), zapIP(p.s.cfg.ClientIP(r)))
	p.s.audit(r, audit.Event{Type: audit.LockedOut, UserID: u.ID, Email: u.Email, Reason: "mfa"})
	_ = p.s.notify(ctx, notify.Message{
		Kind: notify.KindAccountLocked, Channel: notify.Email, To: u.Email, UserID: u.ID,
		Data: map[string]string{notify.DataName: u.Name, notify.DataIP: p.s.cfg.ClientIP(r)},
	})
	if !id.Session.Full() {
		_ = p.s.deps.Sessions.Revoke(ctx, tok)
	}
}

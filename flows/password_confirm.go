package flows

import (
	"errors"
	"net/http"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/store"
)

// errCurrentPassword: a signed-in user's confirmation with the current
// password failed (change-password, change-email, account delete).
var errCurrentPassword = apiErr(http.StatusUnauthorized, CodeInvalidCredentials, "The current password is incorrect.")

// Guessing the current password from a stolen session meets the same
// limits as guessing it at the login form: the login_identifier bucket
// and the lockout, taken before the hash runs.
// confirmPassword checks pw against u's hash under the login's limits; on
// success it returns the lockout reservation (the caller releases it, or
// marks it succeeded once everything is confirmed). On failure it has
// answered (refuse for a wrong password, 429 or 503 otherwise).
func (p *portal) confirmPassword(w http.ResponseWriter, r *http.Request, u *store.User, pw string, now time.Time, refuse func(*APIError, string)) (*checkAttempt, bool) {
	ctx := r.Context()
	ip := p.s.cfg.ClientIP(r)
	if ok, wait, err := p.s.limits.loginID.Allow(ctx, u.Email, now); err != nil {
		p.s.storeFailure(w, r, "rate limit", err)
		return nil, false
	} else if !ok {
		p.s.obs.Limited(BucketLoginIdentifier)
		retryAfter(w, wait)
		refuse(errRateLimited, "rate_limited")
		return nil, false
	}
	// Taken from the lockout's budget before the hash runs (issue 9 #3).
	att, wait, err := p.s.reserveCheck(ctx, u, u.Email, ratelimit.AddressKey(ip), now)
	if err != nil {
		p.s.storeFailure(w, r, "lockout", err)
		return nil, false
	}
	if att == nil {
		p.s.obs.Limited("lockout")
		retryAfter(w, wait)
		refuse(errLockedOut, "locked")
		return nil, false
	}
	if err := p.s.deps.Hasher.Verify(ctx, u.PasswordHash, pw); err != nil {
		if !errors.Is(err, password.ErrMismatch) && !errors.Is(err, password.ErrTooLong) {
			if ctx.Err() != nil {
				p.release(ctx, att)
				return nil, false
			}
			p.s.log.Error("password verification failed", zapErr(err))
		}
		if att.Failed() {
			p.s.audit(r, audit.Event{Type: audit.LockedOut, UserID: u.ID, Email: u.Email})
			p.lockedNotice(ctx, u, ip)
		}
		p.release(ctx, att) // a no-op after Failed
		refuse(errCurrentPassword, "invalid_credentials")
		return nil, false
	}
	return att, true
}

package flows

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/store"
)

// Limits slow down credential stuffing on the login endpoint: a token bucket
// per client IP (one address walking many usernames), one per identifier
// (many addresses hammering one account), and a lockout per (identifier,
// IP) pair after repeated failures, which a third party elsewhere cannot
// trigger for a victim.
type Limits struct {
	LoginIP         ratelimit.Rate
	LoginIdentifier ratelimit.Rate
	LockoutMax      int // 0: no lockout
	LockoutWindow   time.Duration
	LockoutDuration time.Duration
	// MFA bounds second-factor codes per user (challenge and enrolment);
	// each challenge stage also dies after 5 codes.
	MFA ratelimit.Rate
	// MFASend bounds emailed / texted codes per user.
	MFASend ratelimit.Rate
}

// DefaultLimits: 20 login attempts a minute per IP (offices share an
// address), 5 a minute per identifier, and 10 failures within 15 minutes
// lock that identifier for that IP for 15 minutes (far under NIST's cap of
// 100 consecutive failures).
func DefaultLimits() Limits {
	return Limits{
		LoginIP:         ratelimit.Rate{N: 20, Per: time.Minute},
		LoginIdentifier: ratelimit.Rate{N: 5, Per: time.Minute},
		LockoutMax:      10,
		LockoutWindow:   15 * time.Minute,
		LockoutDuration: 15 * time.Minute,
		MFA:             ratelimit.Rate{N: 5, Per: time.Minute},
		MFASend:         ratelimit.Rate{N: 3, Per: time.Minute},
	}
}

type limiters struct {
	loginIP, loginID ratelimit.Limiter
	lockout          ratelimit.Locker
	lockoutDuration  time.Duration

	mfaUser, mfaAttempts, mfaSend ratelimit.Limiter
}

// NewLimiter builds the limiter of one bucket ("login_ip",
// "login_identifier"): in-process by default, or shared through Redis so
// that several instances spend one budget.
type NewLimiter func(bucket string, r ratelimit.Rate) ratelimit.Limiter

func localLimiter(_ string, r ratelimit.Rate) ratelimit.Limiter { return ratelimit.NewLocal(r, 0) }

// newLimiters builds the buckets and the lockout: shared through lockouts
// when given (so a lock holds on every instance and operators can lift
// it), in-process otherwise.
func newLimiters(l Limits, mk NewLimiter, lockouts store.LockoutStore) limiters {
	if mk == nil {
		mk = localLimiter
	}
	var lock ratelimit.Locker
	if lockouts != nil {
		lock = ratelimit.NewStoreLocker(lockouts, l.LockoutMax, l.LockoutWindow, l.LockoutDuration)
	} else {
		lock = ratelimit.NewLockout(l.LockoutMax, l.LockoutWindow, l.LockoutDuration, 0).Locker()
	}
	lim := limiters{
		loginIP: mk("login_ip", l.LoginIP),
		loginID: mk("login_identifier", l.LoginIdentifier),
		lockout: lock,

		lockoutDuration: l.LockoutDuration,
	}
	lim.mfaUser, lim.mfaAttempts, lim.mfaSend = mfaLimiters(l, mk)
	return lim
}

var (
	errRateLimited = apiErr(http.StatusTooManyRequests, CodeRateLimited, "Too many sign-in attempts. Wait a moment and try again.")
	errLockedOut   = apiErr(http.StatusTooManyRequests, CodeAccountLocked, "Too many failed sign-in attempts. Try again later.")
)

// retryAfter sets the Retry-After header in whole seconds, rounded up.
func retryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
}

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
	// MFALockoutMax wrong second-factor codes for one account, from any
	// address and any number of logins, within MFALockoutWindow stop its
	// challenges for MFALockoutDuration (0: off). Without it an attacker
	// who has the password could log in again and again for 5 new guesses.
	MFALockoutMax      int
	MFALockoutWindow   time.Duration
	MFALockoutDuration time.Duration
	// Admin holds for accounts in the admin group when the limits above
	// are off (`rate_limit off`, `lockout off`), which never remove the
	// administrators' protection (issue 9 #16): with LockoutMax 0 their
	// (identifier, address) pairs keep a lockout of AdminLockoutMax
	// failures, and with LoginIdentifier off AdminIdentifier.N failures
	// from any addresses within AdminIdentifier.Per stop the account's
	// password checks for AdminIdentifier.Per. Zero values: none (tests).
	AdminLockoutMax      int
	AdminLockoutWindow   time.Duration
	AdminLockoutDuration time.Duration
	AdminIdentifier      ratelimit.Rate
	// Recovery (forgot-password; passwordless send and verify): sends per
	// client address and per identifier, and checks of a link or code per
	// address and per identifier (reset_config.go).
	RecoverySendIP  ratelimit.Rate
	RecoverySend    ratelimit.Rate
	RecoveryCheckIP ratelimit.Rate
	RecoveryCheck   ratelimit.Rate
	// Verify bounds GET /auth/verify per client address (verify.go).
	Verify ratelimit.Rate
	// AccountExport bounds GET /auth/account/export per user: it reads
	// every table about the account (account_export.go).
	AccountExport ratelimit.Rate
	// MaxKeys bounds the keys (client addresses, identifiers, pairs) that
	// each in-process bucket and lockout holds, so a flood of distinct
	// addresses costs bounded memory (0: ratelimit's default, 100000).
	// Buckets shared through Redis expire there instead.
	MaxKeys int
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
		// 10 a day: at most about 3,650 guesses a year at a 6-digit code
		// (under 1.1% for TOTP's three valid steps), and far under NIST's
		// 100 consecutive failures.
		MFALockoutMax:      10,
		MFALockoutWindow:   24 * time.Hour,
		MFALockoutDuration: 24 * time.Hour,

		AdminLockoutMax:      10,
		AdminLockoutWindow:   15 * time.Minute,
		AdminLockoutDuration: 15 * time.Minute,
		AdminIdentifier:      ratelimit.Rate{N: 5, Per: time.Minute},

		RecoverySendIP:  ratelimit.Rate{N: 10, Per: time.Minute},
		RecoverySend:    ratelimit.Rate{N: 3, Per: time.Minute},
		RecoveryCheckIP: ratelimit.Rate{N: 20, Per: time.Minute},
		RecoveryCheck:   ratelimit.Rate{N: 5, Per: time.Minute},

		// A page behind nginx asks once per asset: 600 a minute (10 a
		// second, bursts of 600) slows a guesser, not a browser.
		Verify: ratelimit.Rate{N: 600, Per: time.Minute},

		// A person downloads their data now and then; 5 an hour leaves
		// room for retries and stops a stolen session from looping.
		AccountExport: ratelimit.Rate{N: 5, Per: time.Hour},
	}
}

type limiters struct {
	loginIP, loginID ratelimit.Limiter
	lockout          ratelimit.Locker
	lockoutDuration  time.Duration

	mfaUser, mfaAttempts, mfaSend ratelimit.Limiter
	mfaLock                       ratelimit.Locker

	accountExport ratelimit.Limiter

	// adminLock and adminAccount (nil: not needed) are the floor that
	// admin-group accounts keep when the lockout or the identifier bucket
	// is off (limits_admin.go).
	adminLock, adminAccount ratelimit.Locker

	recovery recoveryLimiters
	// verify is in-process on purpose: a verify with a cached session
	// makes no network call (nil: off).
	verify ratelimit.Limiter
}

// NewLimiter builds the limiter of one bucket (BucketLoginIP, ...):
// in-process by default, or shared through Redis so
// that several instances spend one budget.
type NewLimiter func(bucket string, r ratelimit.Rate) ratelimit.Limiter

// localLimiters builds in-process buckets of at most maxKeys keys each.
func localLimiters(maxKeys int) NewLimiter {
	return func(_ string, r ratelimit.Rate) ratelimit.Limiter { return ratelimit.NewLocal(r, maxKeys) }
}

// newLimiters builds the buckets and the lockout: shared through lockouts
// when given (so a lock holds on every instance and operators can lift
// it), in-process otherwise.
func newLimiters(l Limits, mk NewLimiter, lockouts store.LockoutStore) limiters {
	if mk == nil {
		mk = localLimiters(l.MaxKeys)
	}
	locker := func(max int, window, duration time.Duration) ratelimit.Locker {
		if lockouts != nil {
			return ratelimit.NewStoreLocker(lockouts, max, window, duration)
		}
		return ratelimit.NewLockout(max, window, duration, l.MaxKeys).Locker()
	}
	lock := locker(l.LockoutMax, l.LockoutWindow, l.LockoutDuration)
	lim := limiters{lockout: lock, lockoutDuration: l.LockoutDuration}
	for _, b := range l.buckets(&lim) {
		*b.slot = mk(b.name, b.rate)
	}
	lim.recovery = newRecoveryLimiters(l, mk)
	if !l.Verify.Off() {
		lim.verify = ratelimit.NewLocal(l.Verify, l.MaxKeys)
	}
	// The MFA lock is the same shared store, keyed (email, "mfa"), so
	// `caddy auth user unlock` and the admin API lift it with the rest.
	lim.mfaLock = locker(l.MFALockoutMax, l.MFALockoutWindow, l.MFALockoutDuration)
	if l.LockoutMax <= 0 && l.AdminLockoutMax > 0 {
		lim.adminLock = locker(l.AdminLockoutMax, l.AdminLockoutWindow, l.AdminLockoutDuration)
	}
	if l.LoginIdentifier.Off() && !l.AdminIdentifier.Off() {
		lim.adminAccount = locker(l.AdminIdentifier.N, l.AdminIdentifier.Per, l.AdminIdentifier.Per)
	}
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

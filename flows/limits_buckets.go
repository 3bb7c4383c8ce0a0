package flows

import (
	"time"

	"github.com/caddyauth/gateway/internal/ratelimit"
)

// Rate-limit bucket names: the key part of a shared (Redis) bucket and the
// label of the limited metric. They are stable: renaming one resets its
// budget on every instance and breaks dashboards.
const (
	BucketLoginIP         = "login_ip"
	BucketLoginIdentifier = "login_identifier"
	BucketMFAUser         = "mfa_user"
	BucketMFAAttempts     = "mfa_attempts"
	BucketMFASend         = "mfa_send"
	BucketRefreshClient   = "refresh_client"
	BucketRefreshSession  = "refresh_session"
	BucketAccountExport   = "account_export"
)

// mfaAttemptsRate: a challenge stage's bucket holds mfaMaxAttempts and
// refills one per 12 minutes, longer than a stage lives, so pacing the
// guesses gains nothing and the bucket works as a plain counter.
var mfaAttemptsRate = ratelimit.Rate{N: mfaMaxAttempts, Per: time.Duration(mfaMaxAttempts) * 12 * time.Minute}

// bucketSpec is one bucket newLimiters builds: its name, its rate, and
// the limiters field it fills.
type bucketSpec struct {
	name string
	rate ratelimit.Rate
	slot *ratelimit.Limiter
}

// buckets is the table of the limiters' buckets. A new bucket is one line
// here (and its field in limiters).
func (l *Limits) buckets(x *limiters) []bucketSpec {
	return []bucketSpec{
		{BucketLoginIP, l.LoginIP, &x.loginIP},
		{BucketLoginIdentifier, l.LoginIdentifier, &x.loginID},
		{BucketMFAUser, l.MFA, &x.mfaUser},
		{BucketMFAAttempts, mfaAttemptsRate, &x.mfaAttempts},
		{BucketMFASend, l.MFASend, &x.mfaSend},
		{BucketAccountExport, l.AccountExport, &x.accountExport},
	}
}

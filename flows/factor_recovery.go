package flows

import (
	"context"
	"errors"
	"net/http"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/totp"
	"github.com/caddyauth/gateway/store"
)

// recoveryFactor is a one-time recovery code, the way back in when the
// authenticator is lost.
type recoveryFactor struct{ s *Service }

func (recoveryFactor) Name() string { return MethodRecovery }

// Usable while MFA is on and codes are left.
func (f recoveryFactor) Usable(ctx context.Context, u *store.User, st *mfaState) (bool, error) {
	if !st.enrolled {
		return false, nil
	}
	n, err := f.s.deps.MFA.CountRecoveryCodes(ctx, u.ID)
	return n > 0, err
}

// Begins is false: the user holds the codes on paper.
func (recoveryFactor) Begins() bool { return false }

func (recoveryFactor) Begin(context.Context, *factorCall) (*Prompt, error) {
	return nil, errMFAMethodNA
}

// Verify spends the code: the store deletes it in the same step.
func (f recoveryFactor) Verify(ctx context.Context, c *factorCall, code string) *APIError {
	u := c.u
	norm := totp.NormalizeRecovery(code)
	if len(norm) != totp.RecoveryLength {
		return errMFACodeInvalid
	}
	if err := f.s.deps.MFA.UseRecoveryCode(ctx, u.ID, recoveryHash(u.ID, norm)); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			f.s.log.Error("recovery code check failed", zapErr(err))
		}
		return errMFACodeInvalid
	}
	return nil
}

// used audits the spent code and tells the user: a recovery code used by
// someone else means both the password and the codes are out.
func (f recoveryFactor) used(r *http.Request, c *factorCall) {
	u := c.u
	f.s.audit(r, audit.Event{Type: audit.RecoveryCodeUsed, UserID: u.ID, Email: u.Email})
	_ = f.s.notify(r.Context(), notify.Message{
		Kind: notify.KindRecoveryCodeUsed, Channel: notify.Email, To: u.Email, UserID: u.ID,
		Data: map[string]string{
			notify.DataName: u.Name, notify.DataIP: f.s.cfg.ClientIP(r),
			notify.DataUserAgent: limitRunes(r.UserAgent(), 200), notify.DataTime: f.s.cfg.Now().UTC().Format("2006-01-02 15:04 MST"),
		},
	})
}

var (
	_ Factor     = recoveryFactor{}
	_ usedNotice = recoveryFactor{}
)

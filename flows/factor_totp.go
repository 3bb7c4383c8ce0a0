package flows

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/caddyauth/gateway/internal/totp"
	"github.com/caddyauth/gateway/store"
)

// totpFactor is a code from an authenticator app (RFC 6238).
type totpFactor struct{ s *Service }

func (totpFactor) Name() string { return MethodTOTP }

// Usable once an authenticator is confirmed.
func (totpFactor) Usable(_ context.Context, _ *store.User, st *mfaState) (bool, error) {
	return st.enrolled, nil
}

// Begins is false: the app shows the code without being asked.
func (totpFactor) Begins() bool { return false }

func (totpFactor) Begin(context.Context, *factorCall) (*Prompt, error) { return nil, errMFAMethodNA }

// Verify accepts a code of any confirmed device, once: the matched step is
// recorded so the same code cannot be replayed within its window.
func (f totpFactor) Verify(ctx context.Context, c *factorCall, code string) *APIError {
	u := c.u
	for _, d := range c.st.devices {
		secret, err := f.s.keys.Open("totp", d.Secret, []byte(u.ID))
		if err != nil {
			f.s.log.Error("totp secret does not open (was the secret changed without previous_secret?)", zapUser(u.ID), zap.String("device", d.ID))
			continue
		}
		step, ok := totp.Match(string(secret), code, c.now, d.LastStep)
		if !ok {
			continue
		}
		if err := f.s.deps.MFA.UseTOTPStep(ctx, u.ID, d.ID, step); err != nil {
			if !errors.Is(err, store.ErrConflict) {
				f.s.log.Error("totp step not recorded", zapErr(err))
			}
			return errMFACodeInvalid // raced by a replay: refuse
		}
		return nil
	}
	return errMFACodeInvalid
}

var _ Factor = totpFactor{}

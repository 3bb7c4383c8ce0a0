package flows

import (
	"context"
	"errors"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
)

// trustedDeviceFactor is a remembered device: the answer is the trust
// token the client presents (cookie or header), checked at login so the
// challenge can be skipped. It is never offered on the challenge page and
// does not count as a strong factor (see StrongMFA), so it is kept apart
// from the challenge registry (Service.trust).
type trustedDeviceFactor struct{ s *Service }

func (trustedDeviceFactor) Name() string { return MethodTrustedDevice }

// Usable unless the operator turned the choice off (a negative duration):
// then tokens issued before are not honoured either.
func (f trustedDeviceFactor) Usable(context.Context, *store.User, *mfaState) (bool, error) {
	return f.s.cfg.MFA.TrustedDevice >= 0, nil
}

// Begins is false: the client holds the token from an earlier login.
func (trustedDeviceFactor) Begins() bool { return false }

func (trustedDeviceFactor) Begin(context.Context, *factorCall) (*Prompt, error) {
	return nil, errMFAMethodNA
}

// Verify accepts a live token of this user; a token stays valid until it
// expires or the user forgets the device, so nothing is spent.
func (f trustedDeviceFactor) Verify(ctx context.Context, c *factorCall, token string) *APIError {
	if len(token) != 43 {
		return errMFACodeInvalid
	}
	d, err := f.s.deps.MFA.GetTrustedDevice(ctx, keys.HashToken(token), c.now)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			f.s.log.Warn("trusted device lookup failed; asking for the second factor", zapErr(err))
		}
		return errMFACodeInvalid
	}
	if d.UserID != c.u.ID {
		return errMFACodeInvalid
	}
	return nil
}

var _ Factor = trustedDeviceFactor{}

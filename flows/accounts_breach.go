package flows

import (
	"context"
	"errors"
	"net/http"

	"github.com/caddyauth/gateway/internal/password"
)

// CodeBreachCheckUnavailable: the breached-password check could not be
// done and the operator chose `on_error refuse` (503: an outage, not the
// password's fault).
const CodeBreachCheckUnavailable = "BREACH_CHECK_UNAVAILABLE"

// BreachCounter says how often a password was seen in breaches
// (*password.BreachChecker). Its errors wrap password.ErrBreachUnavailable
// and name neither the password nor its hash.
type BreachCounter interface {
	Check(ctx context.Context, pw string) (int, error)
}

// BreachCheck is the breached-password check of every new password (the
// `password { breach_check }` option): after the local policy, the
// password's SHA-1 prefix is looked up on a k-anonymity range server.
type BreachCheck struct {
	Counter BreachCounter
	// RefuseOnError refuses the password when the server gives no usable
	// answer (on_error refuse, ErrBreachUnavailable); otherwise it is
	// allowed with a warning (on_error allow, the default).
	RefuseOnError bool
	// Warn hears each failure to get an answer (the server logs it, the
	// CLI prints it; default: none). err names neither the password nor
	// its hash.
	Warn func(err error)
	// Observe hears each outcome: "breached", "clean", "unavailable"
	// (metrics; default: none).
	Observe func(result string)
}

// check returns password.ErrBreached, password.ErrBreachUnavailable (with
// RefuseOnError) or nil. A nil check allows everything.
func (b *BreachCheck) check(ctx context.Context, pw string) error {
	if b == nil || b.Counter == nil {
		return nil
	}
	n, err := b.Counter.Check(ctx, pw)
	result := "clean"
	switch {
	case err != nil && ctx.Err() != nil:
		// The caller went away: nothing to warn of, and nothing to store.
		return ctx.Err()
	case err != nil:
		result = "unavailable"
		if b.Warn != nil {
			b.Warn(err)
		}
	case n > 0:
		result = "breached"
	}
	if b.Observe != nil {
		b.Observe(result)
	}
	switch {
	case result == "breached":
		return password.ErrBreached
	case result == "unavailable" && b.RefuseOnError:
		return err
	}
	return nil
}

// passwordRefusal is the answer to a new password the account service
// refused with err: 400 INVALID_INPUT with the reason, or 503
// BREACH_CHECK_UNAVAILABLE when the breach check could not be done.
func passwordRefusal(err error) *APIError {
	if errors.Is(err, password.ErrBreachUnavailable) {
		return apiErr(http.StatusServiceUnavailable, CodeBreachCheckUnavailable,
			"The password could not be checked against known data breaches right now. Try again shortly.")
	}
	return invalidInput(accountMessage(err))
}

package flows

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

// Factor is one kind of second factor. The challenge offers the configured
// ones (Service.factors) and knows them only through this interface, so a
// new one (passkeys) is a new file and a line in allFactors, not a new case
// in every handler. The remembered device is a factor too, checked at login
// rather than offered (Service.trust).
type Factor interface {
	// Name is the method's stable name: the `mfa { methods }` keyword, the
	// challenge's `method` field and the session's MFA method.
	Name() string
	// Usable reports whether u can pass this factor now, given what the
	// account has enrolled (st.devices and st.enrolled are filled in).
	Usable(ctx context.Context, u *store.User, st *mfaState) (bool, error)
	// Begins reports whether the client must ask for a challenge (POST
	// /mfa/send) before it can answer: true for a code we send, and for a
	// passkey's request options; false for a code the user already holds.
	Begins() bool
	// Begin prepares a challenge and returns what the client needs to
	// answer it. An *APIError is answered as is; any other error is a
	// store failure.
	Begin(ctx context.Context, c *factorCall) (*Prompt, error)
	// Verify checks the client's answer (a code, or later a signed
	// assertion) and spends it: nil on success.
	Verify(ctx context.Context, c *factorCall, answer string) *APIError
}

// factorCall is the challenge a factor begins or verifies: who, in which
// session stage (sent codes are bound to it), and when.
type factorCall struct {
	u     *store.User
	stage string // id of the session being verified; "" before one exists
	st    *mfaState
	now   time.Time
}

// callFor is the call for the session id, verified at now.
func callFor(id *session.Identity, st *mfaState, now time.Time) *factorCall {
	return &factorCall{u: &id.User, stage: id.Session.ID, st: st, now: now}
}

// Prompt is what Begin hands the client.
type Prompt struct {
	// Sent is the masked destination of a code just sent ("a***@x.org").
	Sent string
	// ExpiresIn is how long the answer can be given.
	ExpiresIn time.Duration
	// Data is what a client-side factor needs to answer (a passkey's
	// request options); nil for codes.
	Data map[string]any
}

// usedNotice is implemented by factors whose use the user must hear of
// (a recovery code: someone may have their password and their codes).
type usedNotice interface {
	used(r *http.Request, c *factorCall)
}

// allFactors lists every factor in challenge display order. The order is
// fixed, not the config's: the first usable one is the page's default.
func allFactors(s *Service) []Factor {
	return []Factor{
		totpFactor{s},
		newEmailCodeFactor(s),
		newSMSCodeFactor(s),
		recoveryFactor{s},
	}
}

// factors is the registry of the configured factors, in display order.
type factors []Factor

// newFactors keeps the factors named in methods (`mfa { methods }`).
func newFactors(s *Service, methods []string) factors {
	var fs factors
	for _, f := range allFactors(s) {
		if slices.Contains(methods, f.Name()) {
			fs = append(fs, f)
		}
	}
	return fs
}

// get returns the configured factor called name, or nil.
func (fs factors) get(name string) Factor {
	for _, f := range fs {
		if f.Name() == name {
			return f
		}
	}
	return nil
}

// usable lists the names of the factors u can pass now.
func (fs factors) usable(ctx context.Context, u *store.User, st *mfaState) ([]string, error) {
	var names []string
	for _, f := range fs {
		ok, err := f.Usable(ctx, u, st)
		if err != nil {
			return nil, err
		}
		if ok {
			names = append(names, f.Name())
		}
	}
	return names, nil
}

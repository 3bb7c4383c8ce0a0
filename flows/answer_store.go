package flows

import (
	"context"
	"errors"
	"net/http"

	"github.com/caddyauth/gateway/store"
)

var errConflict = apiErr(http.StatusConflict, CodeConflict, "That conflicts with the current state. Reload and try again.")

// storeOutcome is what a failed store (or rate-limit backend) call was.
type storeOutcome int

const (
	// storeOutage: the backend failed; logged, counted, 503.
	storeOutage storeOutcome = iota
	// storeCanceled: the client left mid-request; not an outage.
	storeCanceled
	// storeAnswered: a sentinel that is itself the answer (404, 409).
	storeAnswered
)

// storeSentinels says whether a call site takes store.ErrNotFound and
// store.ErrConflict as answers. Where it does not, they reached it
// unexpected and fail closed like an outage.
type storeSentinels bool

const (
	sentinelsFail   storeSentinels = false
	sentinelsAnswer storeSentinels = true
)

// storeAnswers is the table of sentinels that are answers.
var storeAnswers = []struct {
	err    error
	answer *APIError
}{
	{store.ErrNotFound, errNotFound},
	{store.ErrConflict, errConflict},
}

// storeAnswer is the one mapping from a failed store or limiter call to
// its answer. Anything not in storeAnswers (store.ErrUnavailable, a
// driver or Redis error, a timeout) is 503: nothing passes on a store
// nobody can read.
func storeAnswer(ctx context.Context, err error, sentinels storeSentinels) (*APIError, storeOutcome) {
	if sentinels {
		for _, a := range storeAnswers {
			if errors.Is(err, a.err) {
				return a.answer, storeAnswered
			}
		}
	}
	if ctx.Err() != nil {
		return errStoreUnavailable, storeCanceled
	}
	return errStoreUnavailable, storeOutage
}

// answerStore answers a failed store call of operation op (html as in
// answer; a browser gets the error page), logging an outage (never a
// secret: store errors carry no credentials) and counting it by op.
func (s *Service) answerStore(w http.ResponseWriter, r *http.Request, op string, err error, sentinels storeSentinels, html bool) {
	e, outcome := storeAnswer(r.Context(), err, sentinels)
	switch outcome {
	case storeCanceled:
		s.log.Debug("request canceled by the client", zapOp(op))
	case storeOutage:
		s.log.Error("session or user store unavailable", zapOp(op), zapErr(err))
		s.obs.StoreError(op)
	}
	s.answer(w, r, e, html, nil)
}

// storeFailure answers a store error the handler did not expect: 503 so
// nothing passes unauthenticated.
func (s *Service) storeFailure(w http.ResponseWriter, r *http.Request, op string, err error) {
	s.answerStore(w, r, op, err, sentinelsFail, wantsHTML(r))
}

// storeError answers a store error where a missing record is 404 and a
// taken one 409, anything else 503.
func (s *Service) storeError(w http.ResponseWriter, r *http.Request, op string, err error) {
	s.answerStore(w, r, op, err, sentinelsAnswer, wantsHTML(r))
}

package flows

import (
	"net/http"
	"time"

	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

// caller is who is calling a portal handler: the session identity, the
// raw token it was found under (a rotation revokes it) and, for the MFA
// settings kinds, the user's MFA state the check already read.
type caller struct {
	id    *session.Identity
	token string
	// source is the credential the caller presented: a logout or a
	// rotation revokes and reissues that kind.
	source CredentialSource
	mfa    *mfaState
	// start is when the request reached the wrapper: the MFA login
	// latency metric has always counted the session lookup.
	start time.Time
}

// callerKind says what session a portal page needs and how "no session"
// is answered. The answers differ by kind on purpose (a page redirects, an
// API call gets JSON); each is written once, in callerOf.
type callerKind int

const (
	// callerFull: a full session; none is a JSON 401 (session_expired,
	// unauthenticated, or mfa_required for a challenge-stage cookie).
	callerFull callerKind = iota
	// callerFullPage: a full session; browsers without one go to login
	// and come back here, API clients get a JSON 401.
	callerFullPage
	// callerSignedIn: a full session; none is answered by writeError
	// (counted, an error page for browsers).
	callerSignedIn
	// callerStage: a session at any stage (challenge, enrolment, full);
	// a browser GET without one goes to login.
	callerStage
	// callerSettings: a full session that passed a real second factor
	// when the user has one (a password alone never changes a factor).
	callerSettings
	// callerSettingsEnrol: callerSettings, or the enrolment stage.
	callerSettingsEnrol
)

// callerHandler is a portal handler that has been told who is calling.
type callerHandler func(w http.ResponseWriter, r *http.Request, c *caller)

// withCaller registers h behind the session check of kind; op names the
// operation in store-failure logs and metrics.
func (p *portal) withCaller(kind callerKind, op string, h callerHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c, ok := p.callerOf(w, r, kind, op)
		if !ok {
			return
		}
		c.start = start
		h(w, r, c)
	}
}

// callerOf finds the caller for kind, or answers and returns false. It is
// used directly only where a handler needs a session for part of its work
// (linking a provider in oauthStart).
func (p *portal) callerOf(w http.ResponseWriter, r *http.Request, kind callerKind, op string) (*caller, bool) {
	switch kind {
	case callerStage, callerSettings, callerSettingsEnrol:
		return p.stageCaller(w, r, kind, op)
	}
	f, err := p.s.findCaller(r.Context(), r.Header, false)
	if err != nil {
		p.s.storeFailure(w, r, op, err)
		return nil, false
	}
	if f.ID != nil {
		return &caller{id: f.ID, token: f.Token, source: f.Source}, true
	}
	saw := f.Presented
	switch kind {
	case callerFullPage:
		if wantsHTML(r) {
			http.Redirect(w, r, loginURL(p.base, r.URL.RequestURI()), http.StatusSeeOther)
			return nil, false
		}
		p.s.failJSON(w, r, refusal(saw, f.Refused))
	case callerSignedIn:
		p.s.writeError(w, r, refusal(saw, f.Refused))
	default:
		e := refusal(saw, f.Refused)
		if saw && f.Refused == nil {
			// A challenge-stage cookie: say what is missing, not "expired".
			if st, _, err := p.s.identifyAny(r); err == nil && st != nil && !st.Session.Full() {
				e = errMFARequired
			}
		}
		p.s.failJSON(w, r, e)
	}
	return nil, false
}

// stageCaller serves the kinds that accept a session at any stage.
func (p *portal) stageCaller(w http.ResponseWriter, r *http.Request, kind callerKind, op string) (*caller, bool) {
	f, err := p.s.findCaller(r.Context(), r.Header, true)
	if err != nil {
		p.s.storeFailure(w, r, op, err)
		return nil, false
	}
	id := f.ID
	if id == nil {
		if wantsHTML(r) && r.Method == http.MethodGet {
			http.Redirect(w, r, p.base+"/login", http.StatusSeeOther)
		} else {
			p.s.writeError(w, r, refusal(false, f.Refused))
		}
		return nil, false
	}
	c := &caller{id: id, token: f.Token, source: f.Source}
	if kind == callerStage {
		return c, true
	}
	switch id.Session.Pending {
	case "":
	case store.PendingEnrol:
		if kind != callerSettingsEnrol {
			p.s.writeError(w, r, errMFAStepUp)
			return nil, false
		}
	default:
		p.s.writeError(w, r, errMFAStepUp)
		return nil, false
	}
	st, err := p.s.mfaState(r.Context(), &id.User)
	if err != nil {
		p.s.storeFailure(w, r, op, err)
		return nil, false
	}
	if st.enrolled && !StrongMFA(id.Session.MFAMethod) {
		p.s.writeError(w, r, errMFAEnrolNeedsStep)
		return nil, false
	}
	c.mfa = st
	return c, true
}

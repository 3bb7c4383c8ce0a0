package flows

import (
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

// revokeOld says which session a rotation ends before it creates the new one.
type revokeOld int

const (
	// revokeNone: the caller already ended it (a password change ends
	// sessions before the password is stored).
	revokeNone revokeOld = iota
	// revokeBrowser: every session cookie the request carries, at most
	// maxSessionCookies of them (a login: the browser may hold anything).
	revokeBrowser
	// revokeToken: the one session whose token is rotation.Token (an MFA
	// upgrade of the caller's own session).
	revokeToken
)

// rotation is one session rotation described as data. Every way into a
// session (login, a challenge or enrolment stage, an MFA upgrade, OAuth,
// a password change) goes through rotateSession, so none can forget to end
// the old session (session fixation, OWASP ASVS V3.2.1) or let the new one
// outlive the end it must keep.
type rotation struct {
	// Op names the flow in store-failure labels: "<op> rotate" and
	// "<op> create session".
	Op     string
	Revoke revokeOld
	Token  string // with revokeToken: the old session's token
	// SessionID, with revokeToken and no Token, is the old session's id
	// (a bearer caller presents no session token).
	SessionID string
	User      *store.User
	// Session describes the new session (factors, pending stage, lifetime
	// cap); the client address and user agent come from the request.
	Session session.Options
	// KeepEnd, when set, is an end the new session must not pass: a
	// password change keeps the old session's end, so changing a stolen
	// session's password cannot stretch it. Once it has passed no session
	// is made (session.ErrEndPassed).
	KeepEnd time.Time
	// Cookie writes the new session's cookie. Off for a caller that hands
	// the session out another way (bearer tokens).
	Cookie bool
	// Log, when set, is logged with the user, the client address and
	// LogFields.
	Log       string
	LogFields []zap.Field
	// Audit, when set, is the event recorded with the new session's
	// factors (loginDetail).
	Audit string
}

// rotateError is a store failure during a rotation, with the label the
// failure is counted and logged under.
type rotateError struct {
	op  string
	err error
}

func (e *rotateError) Error() string { return e.err.Error() }
func (e *rotateError) Unwrap() error { return e.err }

// rotateSession ends the old session, creates the new one and, as asked,
// sets its cookie, logs and audits. The steps run in that order; nothing
// is written before the old session is gone.
func (s *Service) rotateSession(w http.ResponseWriter, r *http.Request, rot rotation) (*session.Identity, error) {
	if err := s.revokeOld(r, rot); err != nil {
		return nil, &rotateError{op: rot.Op + " rotate", err: err}
	}
	o := rot.Session
	o.IP, o.UserAgent = s.cfg.ClientIP(r), r.UserAgent()
	o.EndBy = rot.KeepEnd
	nid, err := s.deps.Sessions.CreateWith(r.Context(), rot.User, o)
	if err != nil {
		return nil, &rotateError{op: rot.Op + " create session", err: err}
	}
	if rot.Cookie {
		s.setSessionCookie(w, nid)
	}
	if rot.Log != "" {
		s.log.Info(rot.Log, append([]zap.Field{zapUser(rot.User.ID), zapIP(o.IP)}, rot.LogFields...)...)
	}
	if rot.Audit != "" {
		s.audit(r, audit.Event{Type: rot.Audit, UserID: rot.User.ID, Email: rot.User.Email, Detail: loginDetail(nid.Session)})
	}
	return nid, nil
}

func (s *Service) revokeOld(r *http.Request, rot rotation) error {
	switch rot.Revoke {
	case revokeBrowser:
		var buf [maxSessionCookies]string
		for _, old := range s.sessionCookies(r, &buf) {
			if _, err := s.deps.Sessions.RevokeLive(r.Context(), old); err != nil {
				return err
			}
		}
	case revokeToken:
		if rot.Token == "" && rot.SessionID != "" {
			return s.deps.Sessions.RevokeID(r.Context(), rot.SessionID)
		}
		return s.deps.Sessions.Revoke(r.Context(), rot.Token)
	}
	return nil
}

// rotate is rotateSession for a portal handler: a store failure is
// answered, and nil returned.
func (p *portal) rotate(w http.ResponseWriter, r *http.Request, rot rotation) *session.Identity {
	nid, err := p.s.rotateSession(w, r, rot)
	if errors.Is(err, session.ErrPasswordChanged) {
		// The password this login checked was replaced meanwhile.
		p.s.writeError(w, r, errInvalidCredentials)
		return nil
	}
	if err != nil {
		op := rot.Op
		var re *rotateError
		if errors.As(err, &re) {
			op, err = re.op, re.err
		}
		p.s.storeFailure(w, r, op, err)
		return nil
	}
	return nid
}

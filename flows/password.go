package flows

import (
	"net/http"
	"strconv"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

// changePasswordInput is POST /auth/change-password. LogoutOthers is a
// pointer so a JSON client that leaves it out gets the safe default (end
// the other sessions); the form sends the checkbox, checked by default.
type changePasswordInput struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
	Confirm         string `json:"confirm"`
	LogoutOthers    *bool  `json:"logout_others"`
}

func (p *portal) passwordRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+p.base+"/change-password", p.withCaller(callerFullPage, "mfa", p.changePasswordPage))
	mux.HandleFunc("POST "+p.base+"/change-password", p.withCaller(callerSignedIn, "change password", p.changePassword))
}

func (p *portal) changePasswordPage(w http.ResponseWriter, r *http.Request, c *caller) {
	id := c.id
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{
			"change_password": p.base + "/change-password",
			"fields":          []string{"current_password", "new_password", "confirm", "logout_others"},
		})
		return
	}
	p.s.render(w, r, http.StatusOK, &passwordView{layout: layout{Title: "Change your password"}, Email: id.User.Email, LogoutOthers: true})
}

// changePassword: the signed-in user proves the current password and sets a
// new one that passes the policy. The session is rotated, and by default
// every other session and remembered device of the user is ended.
func (p *portal) changePassword(w http.ResponseWriter, r *http.Request, c *caller) {
	id := c.id
	var in changePasswordInput
	var othersForm string
	if e := decode(r, &in, map[string]*string{
		"current_password": &in.CurrentPassword, "new_password": &in.NewPassword,
		"confirm": &in.Confirm, "logout_others": &othersForm,
	}); e != nil {
		p.s.writeError(w, r, e)
		return
	}
	logoutOthers := in.LogoutOthers == nil || *in.LogoutOthers
	if !isJSON(r) {
		// An unchecked checkbox sends nothing.
		logoutOthers = othersForm == "on" || othersForm == "true" || othersForm == "1"
	}
	fail := func(e *APIError) {
		p.s.fail(w, r, e, func() view {
			return &passwordView{layout: layout{Title: "Change your password"}, Email: id.User.Email, LogoutOthers: logoutOthers}
		})
	}
	if in.CurrentPassword == "" || in.NewPassword == "" {
		fail(invalidInput("Enter your current password and a new one."))
		return
	}
	ctx := r.Context()
	// A fresh row: the session cache may hold the user for a few seconds.
	u, err := p.s.deps.Users.UserByID(ctx, id.User.ID)
	if err != nil {
		p.s.storeFailure(w, r, "change password", err)
		return
	}
	if !u.Active() {
		p.s.writeError(w, r, errUnauthenticated)
		return
	}
	if u.PasswordHash == "" {
		fail(invalidInput("This account signs in without a password, so there is none to change."))
		return
	}
	// The same rule as for MFA settings: an enrolled user whose session
	// did not pass a real second factor (a remembered device only, or a
	// session from before enrolment) steps up first.
	st, err := p.s.mfaState(ctx, u)
	if err != nil {
		p.s.storeFailure(w, r, "change password", err)
		return
	}
	if st.enrolled && !StrongMFA(id.Session.MFAMethod) {
		fail(errPasswordNeedsStep)
		return
	}
	now, ip := p.s.cfg.Now(), p.s.cfg.ClientIP(r)
	att, ok := p.confirmPassword(w, r, u, in.CurrentPassword, now, func(e *APIError, reason string) {
		if reason == "invalid_credentials" {
			p.s.audit(r, audit.Event{Type: audit.PasswordChangeFailed, UserID: u.ID, Email: u.Email, Reason: reason})
		}
		fail(e)
	})
	if !ok {
		return
	}
	defer p.release(ctx, att)
	if in.Confirm != "" && in.Confirm != in.NewPassword {
		fail(invalidInput("The two new passwords differ."))
		return
	}
	if in.NewPassword == in.CurrentPassword {
		fail(invalidInput("The new password is the same as the current one."))
		return
	}
	acc := p.s.Accounts()
	if err := acc.CheckPassword(ctx, in.NewPassword, u.Email, u.Name); err != nil {
		fail(passwordRefusal(err))
		return
	}
	hash, err := p.s.deps.Hasher.Hash(ctx, in.NewPassword)
	if err != nil {
		p.s.writeError(w, r, errInternal)
		return
	}
	// Sessions end before the password changes: if a step fails, the user
	// is signed out with the old password still valid, never left with a
	// new password and an attacker's session still alive.
	ended, ok := p.endSessionsForPasswordChange(w, r, id.Session.ID, u.ID, logoutOthers)
	if !ok {
		return
	}
	// From here the password has changed (recorded by the service): tell
	// the user before anything else can fail.
	storePassword := acc.StorePassword
	if !logoutOthers {
		storePassword = acc.StorePasswordKeepSessions
	}
	if err := storePassword(ctx, p.s.actor(r, ActorSelf), u, hash, map[string]string{"sessions_ended": strconv.Itoa(ended)}); err != nil {
		p.s.storeFailure(w, r, "change password", err)
		return
	}
	p.s.log.Info("password changed", zapUser(u.ID))
	_ = p.s.notify(ctx, notify.Message{
		Kind: notify.KindPasswordChanged, Channel: notify.Email, To: u.Email, UserID: u.ID,
		Data: map[string]string{
			notify.DataName: u.Name, notify.DataIP: ip, notify.DataUserAgent: limitRunes(r.UserAgent(), 200),
			notify.DataTime: now.UTC().Format("2006-01-02 15:04 MST"),
		},
	})
	if err := att.Succeeded(ctx); err != nil {
		p.s.log.Warn("lockout not cleared after a password change", zapErr(err))
	}
	// The caller continues in a new session with the same factors and no
	// more time than the old one had left (no fixation across a credential
	// change, and no way to stretch a stolen session by changing it).
	// The old sessions already ended above (revokeNone).
	bearer := bearerMode(r)
	nid, err := p.s.rotateSession(w, r, rotation{
		Op: "change password", Revoke: revokeNone, User: u, Cookie: !bearer,
		Session: session.Options{AuthMethod: orDefault(id.Session.AuthMethod, store.AuthPassword), MFAMethod: id.Session.MFAMethod},
		KeepEnd: id.Session.ExpiresAt,
	})
	signedIn := err == nil
	if !signedIn {
		// The change stands; only the new session is missing.
		p.s.log.Error("password changed, but the new session was not created", zapUser(u.ID), zapErr(err))
		p.s.obs.StoreError("change password: new session")
		p.s.clearSessionCookie(w)
	}
	if wantsJSON(r) {
		out := map[string]any{"password_changed": true, "signed_in": signedIn, "sessions_ended": ended}
		if signedIn {
			out["expires_at"] = nid.Session.ExpiresAt.UTC().Format(time.RFC3339)
		}
		if signedIn && bearer {
			p.answerTokens(w, r, nid, out)
			return
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	p.s.render(w, r, http.StatusOK, &passwordView{layout: layout{Title: "Password changed"}, Email: u.Email, Done: true, SignedOut: !signedIn})
}

// endSessionsForPasswordChange ends the caller's session (it is replaced
// once the password is saved) and, with logoutOthers, every other session
// of the user and the remembered devices. It reports how many other
// sessions ended; ok is false after it answered a store failure.
func (p *portal) endSessionsForPasswordChange(w http.ResponseWriter, r *http.Request, sid, userID string, logoutOthers bool) (int, bool) {
	ctx := r.Context()
	if !logoutOthers {
		// By id: a bearer caller has no session token to revoke by.
		if err := p.s.deps.Sessions.RevokeID(ctx, sid); err != nil {
			p.s.storeFailure(w, r, "change password: rotate", err)
			return 0, false
		}
		return 0, true
	}
	n, err := p.s.deps.Sessions.RevokeUser(ctx, userID)
	if err != nil {
		p.s.storeFailure(w, r, "change password: end sessions", err)
		return 0, false
	}
	if err := p.s.deps.MFA.DeleteTrustedDevices(ctx, userID); err != nil {
		p.s.storeFailure(w, r, "change password: forget devices", err)
		return 0, false
	}
	return max(n-1, 0), true // the caller's own is replaced, not ended
}

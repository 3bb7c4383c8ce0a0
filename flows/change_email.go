package flows

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

// Changing the email (issue 12 item 4). The signed-in user confirms with
// the current password (after a step-up when enrolled); the new address
// gets an email_verification grant that names it, the old one a notice at
// once, so a change never happens silently. The address switches only
// when the new one's link or code comes back (markVerified); until then
// the account signs in and is reached at the old one. Sessions and linked
// identities stay: identities are keyed by the provider's subject, never
// by email, and the session is the same person's.

// CodeEmailTaken: the new address belongs to another account.
const CodeEmailTaken = "EMAIL_TAKEN"

var errEmailTaken = apiErr(http.StatusConflict, CodeEmailTaken, "Another account already uses this email address.")

func (p *portal) changeEmailRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+p.base+"/change-email", p.withCaller(callerSettings, "change email", p.changeEmail))
}

type changeEmailInput struct {
	NewEmail        string `json:"new_email"`
	CurrentPassword string `json:"current_password"`
}

// changeEmail: POST /auth/change-email with new_email and current_password.
func (p *portal) changeEmail(w http.ResponseWriter, r *http.Request, c *caller) {
	var in changeEmailInput
	if e := decode(r, &in, map[string]*string{"new_email": &in.NewEmail, "current_password": &in.CurrentPassword}); e != nil {
		p.s.writeError(w, r, e)
		return
	}
	to := NormalizeEmail(in.NewEmail)
	if !ValidEmail(to) {
		p.s.writeError(w, r, invalidInput("new_email: enter a valid email address."))
		return
	}
	ctx := r.Context()
	u, err := p.s.deps.Users.UserByID(ctx, c.id.User.ID)
	if err != nil {
		p.s.storeFailure(w, r, "change email", err)
		return
	}
	if store.EqualEmail(to, u.Email) {
		p.s.writeError(w, r, invalidInput("new_email: that is already your address."))
		return
	}
	if u.PasswordHash == "" {
		p.s.writeError(w, r, invalidInput("This account signs in without a password; ask an administrator to change its address."))
		return
	}
	att, ok := p.confirmPassword(w, r, u, in.CurrentPassword, p.s.cfg.Now(), func(e *APIError, _ string) { p.s.writeError(w, r, e) })
	if !ok {
		return
	}
	defer p.release(ctx, att)
	// A taken address is said here: the caller proved the password, and
	// the verification would fail on it anyway.
	switch _, err := p.s.deps.Users.UserByEmail(ctx, to); {
	case err == nil:
		p.s.writeError(w, r, errEmailTaken)
		return
	case !errors.Is(err, store.ErrNotFound):
		p.s.storeFailure(w, r, "change email", err)
		return
	}
	g, err := p.s.issueGrant(ctx, emailVerificationKind, u, to)
	if err != nil {
		p.s.storeFailure(w, r, "change email", err)
		return
	}
	if err := p.s.notify(ctx, notify.Message{Kind: notify.KindVerifyEmail, Channel: notify.Email, To: to, UserID: u.ID, Data: map[string]string{
		notify.DataCode: g.Code, notify.DataName: u.Name, notify.DataExpires: humanDuration(emailVerificationKind.TTL),
		notify.DataLink: p.portalURL(r, "/verify-email?token="+url.QueryEscape(g.Token)),
	}}); err != nil {
		p.s.storeFailure(w, r, "change email", err)
		return
	}
	if err := p.s.notify(ctx, notify.Message{Kind: notify.KindEmailChangeRequested, Channel: notify.Email, To: u.Email, UserID: u.ID, Data: map[string]string{
		notify.DataName: u.Name, "new_email": maskEmail(to), notify.DataIP: p.s.cfg.ClientIP(r),
		notify.DataLink: p.portalURL(r, "/forgot-password"),
	}}); err != nil {
		p.s.storeFailure(w, r, "change email", err)
		return
	}
	if err := att.Succeeded(ctx); err != nil {
		p.s.log.Warn("lockout not cleared after an email change request", zapErr(err))
	}
	p.s.audit(r, audit.Event{Type: audit.EmailChangeRequested, UserID: u.ID, Email: u.Email, Detail: map[string]string{"new_email": maskEmail(to)}})
	writeJSON(w, http.StatusAccepted, map[string]any{"verification_sent": true})
}

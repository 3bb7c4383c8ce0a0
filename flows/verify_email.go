package flows

import (
	"errors"
	"net/http"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

// Email verification (issue 12 item 2). The link's GET shows a page with
// one button and spends nothing (mail scanners open links); the POST
// spends the grant, by its token or by the account's email and code. The
// grant names the address it verifies: a grant sent to an address the
// account no longer has verifies nothing.

type verifyEmailInput struct {
	Token string `json:"token"`
	Email string `json:"email"`
	Code  string `json:"code"`
}

// verifyEmailPage: GET /auth/verify-email[?token=]. With a token: the
// confirm button (or, when the link is dead, a page offering a new one).
// Without: "check your mail", the code form and the resend button (where
// protect sends a signed-in, unverified user).
func (p *portal) verifyEmailPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	v := &verifyEmailView{layout: layout{Title: "Verify your email address"}}
	if id, _, err := p.s.identifyAny(r); err == nil && id != nil {
		v.Email = id.User.Email
	}
	if tok == "" {
		if wantsJSON(r) {
			writeJSON(w, http.StatusOK, map[string]any{"verify_email": p.base + "/verify-email", "fields": []string{"token", "email", "code"}})
			return
		}
		p.s.render(w, r, http.StatusOK, v)
		return
	}
	hideTokenURL(w)
	if !wellFormedToken(tok) {
		p.s.fail(w, r, errVerificationInvalid, func() view { return v })
		return
	}
	_, err := p.s.peekGrant(r.Context(), emailVerificationKind, tok)
	switch {
	case errors.Is(err, errGrantInvalid):
		p.s.fail(w, r, errVerificationInvalid, func() view { return v })
		return
	case err != nil:
		p.s.storeFailure(w, r, "verify email", err)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"verify_email": p.base + "/verify-email", "token_valid": true})
		return
	}
	v.Token = tok
	p.s.render(w, r, http.StatusOK, v)
}

// verifyEmail: POST /auth/verify-email with token, or email and code.
func (p *portal) verifyEmail(w http.ResponseWriter, r *http.Request) {
	var in verifyEmailInput
	v := &verifyEmailView{layout: layout{Title: "Verify your email address"}}
	fail := func(e *APIError) {
		v.Email = in.Email
		p.s.fail(w, r, e, func() view { return v })
	}
	if e := decode(r, &in, map[string]*string{"token": &in.Token, "email": &in.Email, "code": &in.Code}); e != nil {
		fail(e)
		return
	}
	ctx := r.Context()
	if in.Token == "" && in.Email == "" && in.Code != "" {
		// A code alone, from a signed-in browser: its account's.
		if id, _, err := p.s.identifyAny(r); err == nil && id != nil {
			in.Email = id.User.Email
		}
	}
	lim := p.s.limits.recovery
	var (
		g   *store.OneTimeToken
		err error
		via = "link"
	)
	switch {
	case in.Token != "" && in.Code == "":
		if !wellFormedToken(in.Token) {
			fail(errVerificationInvalid)
			return
		}
		if !p.recoveryAllowed(w, r, nil, "", "verify_email", lim.checkIP, nil) {
			return
		}
		g, err = p.s.redeemToken(ctx, emailVerificationKind, in.Token)
	case in.Token == "" && in.Email != "" && in.Code != "":
		via = "code"
		email := NormalizeEmail(in.Email)
		if !ValidEmail(email) || !sixDigitCode(in.Code) {
			fail(errVerificationInvalid)
			return
		}
		if !p.recoveryAllowed(w, r, nil, email, "verify_email", lim.checkIP, lim.checkID) {
			return
		}
		u, lerr := p.s.deps.Users.UserByEmail(ctx, email)
		if errors.Is(lerr, store.ErrNotFound) {
			// A change of address: the new one is not the account's
			// yet; the signed-in user's grant names it.
			if id, _, ierr := p.s.identifyAny(r); ierr == nil && id != nil {
				u, lerr = &id.User, nil
			}
		}
		switch {
		case errors.Is(lerr, store.ErrNotFound):
			fail(errVerificationInvalid)
			return
		case lerr != nil:
			p.s.storeFailure(w, r, "verify email", lerr)
			return
		}
		g, err = p.s.redeemCode(ctx, emailVerificationKind, u.ID, in.Code)
	default:
		fail(invalidInput("Send the link's token, or your email address and the code."))
		return
	}
	switch {
	case errors.Is(err, errGrantInvalid):
		p.s.audit(r, audit.Event{Type: audit.EmailVerified, Email: auditIdentifier(NormalizeEmail(in.Email)), Reason: "invalid_" + via})
		fail(errVerificationInvalid)
		return
	case err != nil:
		p.s.storeFailure(w, r, "verify email", err)
		return
	}
	u, approval, err := p.markVerified(r, g, via)
	switch {
	case errors.Is(err, errEmailTakenNow):
		fail(errEmailTaken)
		return
	case errors.Is(err, errGrantInvalid):
		fail(errVerificationInvalid)
		return
	case err != nil:
		p.s.storeFailure(w, r, "verify email", err)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"email_verified": true, "approval_pending": approval})
		return
	}
	v.Email, v.Verified, v.Approval = u.Email, true, approval
	p.s.render(w, r, http.StatusOK, v)
}

// markVerified records that g's address reached its user: email_verified_at,
// a pending registration becomes active (or waits for approval), the
// email_verified notice. errGrantInvalid when the account no longer has
// that address.
func (p *portal) markVerified(r *http.Request, g *store.OneTimeToken, via string) (*store.User, bool, error) {
	ctx := r.Context()
	u, err := p.s.deps.Users.UserByID(ctx, g.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, errGrantInvalid
	}
	if err != nil {
		return nil, false, err
	}
	now := p.s.cfg.Now()
	oldEmail := ""
	if g.Data != "" && !store.EqualEmail(g.Data, u.Email) {
		// A change of address (change_email.go). A password changed or
		// reset since the request cancels it: whoever asked may have had
		// a stolen password.
		issued := g.ExpiresAt.Add(-emailVerificationKind.TTL)
		if u.Status != store.StatusActive || !u.PasswordChangedAt.IsZero() && !issued.After(u.PasswordChangedAt) {
			return nil, false, errGrantInvalid
		}
		oldEmail, u.Email, u.EmailVerifiedAt = u.Email, g.Data, now
	}
	if u.EmailVerifiedAt.IsZero() {
		u.EmailVerifiedAt = now
	}
	p.s.activateVerified(u)
	u.UpdatedAt = now
	if err := p.s.deps.Users.UpdateUser(ctx, u); errors.Is(err, store.ErrConflict) {
		return nil, false, errEmailTakenNow
	} else if err != nil {
		return nil, false, err
	}
	if oldEmail != "" {
		// The cached sessions hold the old address.
		p.s.deps.Sessions.FlushCache()
		p.s.audit(r, audit.Event{Type: audit.EmailChanged, UserID: u.ID, Email: u.Email, Detail: map[string]string{"old_email": maskEmail(oldEmail), "via": via}})
	}
	p.s.audit(r, audit.Event{Type: audit.EmailVerified, UserID: u.ID, Email: u.Email, Detail: map[string]string{"via": via}})
	if err := p.s.notify(ctx, notify.Message{
		Kind: notify.KindEmailVerified, Channel: notify.Email, To: u.Email, UserID: u.ID,
		Data: map[string]string{notify.DataName: u.Name},
	}); err != nil {
		p.s.log.Warn("email_verified notice not queued", zapErr(err))
	}
	return u, u.Status == store.StatusApproval, nil
}

// resendVerification: POST /auth/verify-email/resend with email. The same
// 202 after the same floor for any address; a new link and code (the old
// ones stop working) only to an account whose address is unverified.
func (p *portal) resendVerification(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var in struct {
		Email string `json:"email"`
	}
	if e := decode(r, &in, map[string]*string{"email": &in.Email}); e != nil {
		p.s.writeError(w, r, e)
		return
	}
	email := NormalizeEmail(in.Email)
	if !ValidEmail(email) {
		p.s.writeError(w, r, invalidInput("email: enter a valid email address."))
		return
	}
	lim := p.s.limits.recovery
	if !p.recoveryAllowed(w, r, nil, email, "verify_email_resend", lim.sendIP, lim.sendID) {
		return
	}
	ctx := r.Context()
	u, err := p.s.deps.Users.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = nil
	case err == nil && u.EmailVerifiedAt.IsZero() && u.SignsIn():
		err = p.sendVerification(r, u)
	}
	p.s.pad(r, start)
	if err != nil {
		p.s.storeFailure(w, r, "verify email resend", err)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusAccepted, map[string]any{"verification_sent": true})
		return
	}
	p.s.render(w, r, http.StatusAccepted, &verifyEmailView{layout: layout{Title: "Check your mail"}, Email: email, Sent: true})
}

// activateVerified moves a pending registration on once its address is
// proven: active, or waiting for approval.
func (s *Service) activateVerified(u *store.User) {
	if u.Status == store.StatusPending {
		u.Status = store.StatusActive
		if s.cfg.Registration.Approval {
			u.Status = store.StatusApproval
		}
	}
}

// verifiedByReset: a pending registration reset its password through its
// email, which proves the address.
func (p *portal) verifiedByReset(r *http.Request, u *store.User) error {
	now := p.s.cfg.Now()
	if u.EmailVerifiedAt.IsZero() {
		u.EmailVerifiedAt = now
	}
	p.s.activateVerified(u)
	u.UpdatedAt = now
	if err := p.s.deps.Users.UpdateUser(r.Context(), u); err != nil {
		return err
	}
	p.s.audit(r, audit.Event{Type: audit.EmailVerified, UserID: u.ID, Email: u.Email, Detail: map[string]string{"via": "reset"}})
	return nil
}

// errEmailTakenNow: the address a change verifies was taken meanwhile.
var errEmailTakenNow = errors.New("email taken")

func sixDigitCode(c string) bool {
	if len(c) != 6 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if c[i] < '0' || c[i] > '9' {
			return false
		}
	}
	return true
}

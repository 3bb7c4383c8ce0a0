package flows

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/store"
)

// CodeResetTokenInvalid: a reset link or code that is unknown, used,
// expired, replaced by a newer one or out of tries (contract).
const CodeResetTokenInvalid = "RESET_TOKEN_INVALID"

var (
	errResetTokenInvalid = apiErr(http.StatusBadRequest, CodeResetTokenInvalid, "This reset link or code is no longer valid. Ask for a new one.")
	errResetDisabled     = apiErr(http.StatusForbidden, CodeMethodDisabled, "Password reset is turned off right now.")
	errResetLimited      = apiErr(http.StatusTooManyRequests, CodeRateLimited, "Too many requests. Wait a moment and try again.")
)

// forgotInput is POST /auth/forgot-password.
type forgotInput struct {
	Email string `json:"email"`
	Phone string `json:"phone"`
}

// resetInput is POST /auth/reset-password: the link's token, or the
// email (or phone) and the code, and the new password.
type resetInput struct {
	Token       string `json:"token"`
	Email       string `json:"email"`
	Phone       string `json:"phone"`
	Code        string `json:"code"`
	NewPassword string `json:"new_password"`
	Confirm     string `json:"confirm"`
}

// resetRoutes: forgot-password with the reset flow; the reset page also
// whenever invitations can be sent (an email sender), since it redeems
// their links.
func (p *portal) resetRoutes(mux *http.ServeMux) {
	if p.s.cfg.PasswordReset.On {
		mux.HandleFunc("GET "+p.base+"/forgot-password", p.forgotPage)
		mux.HandleFunc("POST "+p.base+"/forgot-password", p.forgotPassword)
	}
	if !p.s.cfg.PasswordReset.On && !p.s.hasChannel(notify.Email) {
		return
	}
	mux.HandleFunc("GET "+p.base+"/reset-password", p.resetPage)
	mux.HandleFunc("POST "+p.base+"/reset-password", p.resetPassword)
}

func (p *portal) forgotPage(w http.ResponseWriter, r *http.Request) {
	if !p.s.resetOn(r.Context()) {
		p.s.writeError(w, r, errResetDisabled)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"forgot_password": p.base + "/forgot-password", "fields": []string{"email", "phone"}})
		return
	}
	p.s.render(w, r, http.StatusOK, &forgotView{layout: layout{Title: "Reset your password"}, PhoneLogin: p.s.hasChannel(notify.SMS)})
}

// forgotPassword answers 202 {"sent": true} for every well-formed
// identifier, known or not, active or not, with an address or not, after
// the same time (Service.pad): no enumeration by text, status or timing
// (ASVS 6.4.1 / V2.5, NIST 800-63B 6.1.2.3). A known, active account with
// an address gets a reset grant (replacing the one before) by email, or
// by SMS (code only) when it asked by phone and SMS is configured.
func (p *portal) forgotPassword(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var in forgotInput
	if e := decode(r, &in, map[string]*string{"email": &in.Email, "phone": &in.Phone}); e != nil {
		p.forgotFailed(w, r, in, e)
		return
	}
	ctx := r.Context()
	if !p.s.resetOn(ctx) {
		p.forgotFailed(w, r, in, errResetDisabled)
		return
	}
	ident, byPhone, e := recoveryIdentifier(in.Email, in.Phone)
	if e != nil {
		p.forgotFailed(w, r, in, e)
		return
	}
	lim := p.s.limits.recovery
	if !p.recoveryAllowed(w, r, in, ident, "forgot_password", lim.sendIP, lim.sendID) {
		return
	}
	u, err := p.s.lookupIdentifier(ctx, ident, byPhone)
	if err == nil {
		err = p.sendReset(r, u, ident, byPhone)
	}
	p.s.pad(r, start)
	if err != nil {
		p.s.storeFailure(w, r, "forgot password", err)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusAccepted, map[string]any{"sent": true})
		return
	}
	p.s.render(w, r, http.StatusAccepted, &forgotView{layout: layout{Title: "Check your messages"}, Done: true})
}

// sendReset issues and queues the reset grant when u may have one, and
// audits the request either way. u is nil for an unknown identifier.
func (p *portal) sendReset(r *http.Request, u *store.User, ident string, byPhone bool) error {
	return p.sendGrant(r, u, ident, byPhone, grantSend{
		event: audit.PasswordResetRequested, kind: p.s.resetKind(), channel: p.s.resetChannel,
		message: notify.KindPasswordReset, linkPath: "/reset-password",
	})
}

// resetChannel is where u's reset goes: SMS (code only) when asked by
// phone and SMS is configured, else email; "" when neither is possible.
func (s *Service) resetChannel(u *store.User, byPhone bool) (channel, to string) {
	if byPhone && u.VerifiedPhone() != "" && s.hasChannel(notify.SMS) {
		return notify.SMS, u.VerifiedPhone()
	}
	if u.Email != "" && s.hasChannel(notify.Email) {
		return notify.Email, u.Email
	}
	if u.VerifiedPhone() != "" && s.hasChannel(notify.SMS) {
		return notify.SMS, u.VerifiedPhone()
	}
	return "", ""
}

// resetPage: GET /auth/reset-password[?token=] shows the form and spends
// nothing (mail scanners open links). A token that is no longer valid is
// said so at once, with the way to ask for a new one.
func (p *portal) resetPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !p.s.resetOn(ctx) && !p.s.hasChannel(notify.Email) {
		p.s.writeError(w, r, errResetDisabled)
		return
	}
	tok := r.URL.Query().Get("token")
	if tok != "" {
		hideTokenURL(w)
		if !wellFormedToken(tok) {
			p.resetFailed(w, r, resetInput{}, invalidInput("The reset link is malformed. Copy the whole link from the message."))
			return
		}
		if _, _, err := p.s.peekResetOrInvitation(ctx, tok); err != nil {
			if !errors.Is(err, errGrantInvalid) {
				p.s.storeFailure(w, r, "reset page", err)
				return
			}
			p.resetFailed(w, r, resetInput{}, errResetTokenInvalid)
			return
		}
	}
	if wantsJSON(r) {
		fields := []string{"token", "email", "phone", "code", "new_password", "confirm"}
		writeJSON(w, http.StatusOK, map[string]any{"reset_password": p.base + "/reset-password", "fields": fields, "token_valid": tok != ""})
		return
	}
	p.s.render(w, r, http.StatusOK, &resetView{layout: layout{Title: "Choose a new password"}, ResetToken: tok, PhoneLogin: p.s.hasChannel(notify.SMS)})
}

// resetPassword: POST /auth/reset-password sets a new password with a
// reset link's token, or with the email (or phone) and the code. The
// policy is judged (with the account's email and name) before the grant
// is spent, so a refused password does not cost the link. A reset never
// signs in and never touches the second factors.
func (p *portal) resetPassword(w http.ResponseWriter, r *http.Request) {
	var in resetInput
	if e := decode(r, &in, map[string]*string{
		"token": &in.Token, "email": &in.Email, "phone": &in.Phone, "code": &in.Code,
		"new_password": &in.NewPassword, "confirm": &in.Confirm,
	}); e != nil {
		p.resetFailed(w, r, in, e)
		return
	}
	ctx := r.Context()
	byToken := in.Token != ""
	// Without the reset flow this page still redeems invitation links.
	if !p.s.resetOn(ctx) && (!byToken || !p.s.hasChannel(notify.Email)) {
		p.resetFailed(w, r, in, errResetDisabled)
		return
	}
	var ident string
	var byPhone bool
	switch {
	case byToken && (in.Code != "" || in.Email != "" || in.Phone != ""):
		p.resetFailed(w, r, in, invalidInput("Send either the link's token or the email and code, not both."))
		return
	case byToken && !wellFormedToken(in.Token):
		p.resetFailed(w, r, in, invalidInput("The reset link is malformed. Copy the whole link from the message."))
		return
	case !byToken:
		var e *APIError
		if ident, byPhone, e = recoveryIdentifier(in.Email, in.Phone); e != nil {
			p.resetFailed(w, r, in, e)
			return
		}
		if !wellFormedCode(in.Code) {
			p.resetFailed(w, r, in, invalidInput("Enter the 6-digit code from the message."))
			return
		}
	}
	if in.NewPassword == "" {
		p.resetFailed(w, r, in, invalidInput("Enter a new password."))
		return
	}
	if in.Confirm != "" && in.Confirm != in.NewPassword {
		p.resetFailed(w, r, in, invalidInput("The two new passwords differ."))
		return
	}
	lim := p.s.limits.recovery
	idLim := lim.checkID
	if byToken {
		idLim = nil // 256 bits: nothing to guess per identifier
	}
	if !p.recoveryAllowed(w, r, in, ident, "reset_password", lim.checkIP, idLim) {
		return
	}
	acc := p.s.Accounts()
	k := p.s.resetKind()
	var u *store.User
	if byToken {
		t, tk, err := p.s.peekResetOrInvitation(ctx, in.Token)
		k = tk
		if err == nil {
			u, err = p.s.deps.Users.UserByID(ctx, t.UserID)
		}
		switch {
		case errors.Is(err, errGrantInvalid), errors.Is(err, store.ErrNotFound):
			p.resetRefused(w, r, in, nil, ident, "invalid_token")
			return
		case err != nil:
			p.s.storeFailure(w, r, "reset password", err)
			return
		}
	} else {
		var err error
		if u, err = p.s.lookupIdentifier(ctx, ident, byPhone); err != nil {
			p.s.storeFailure(w, r, "reset password", err)
			return
		}
	}
	// With a token the holder already knows the account: judge the
	// password in its full context now, breach check included. With a
	// code, only once the code is right (below), so a refusal cannot tell
	// a known email from an unknown one; the typed identifier is context
	// already, and the local rules are all a guesser of codes sets off
	// (the breach lookup waits for a right code).
	if byToken {
		if err := acc.CheckPassword(ctx, in.NewPassword, u.Email, u.Name); err != nil {
			p.resetFailed(w, r, in, passwordRefusal(err))
			return
		}
	} else if err := acc.CheckPasswordPolicy(in.NewPassword, ident, ""); err != nil {
		p.resetFailed(w, r, in, passwordRefusal(err))
		return
	}
	// The grant is spent before the hash, so a wrong code for a known
	// account and any code for an unknown one cost the same: one store
	// round trip (an unknown identifier tries a user id no row has) and
	// no hash. What fails after the spend gives the grant back.
	var t *store.OneTimeToken
	var err error
	switch {
	case byToken:
		t, err = p.s.redeemToken(ctx, k, in.Token)
	case u == nil:
		_, err = p.s.redeemCode(ctx, k, "unknown:"+ident, in.Code)
		if err == nil {
			err = errGrantInvalid
		}
	default:
		t, err = p.s.redeemCode(ctx, k, u.ID, in.Code)
	}
	switch {
	case errors.Is(err, errGrantInvalid):
		reason := "invalid_token"
		if !byToken {
			reason = "invalid_code"
		}
		p.resetRefused(w, r, in, u, ident, reason)
		return
	case err != nil:
		p.s.storeFailure(w, r, "reset password", err)
		return
	}
	giveBack := func(why string) {
		if rerr := p.s.deps.Grants.CreateToken(context.WithoutCancel(ctx), t); rerr != nil {
			p.s.log.Warn("reset grant not given back", zap.String("after", why), zapUser(u.ID), zapErr(rerr))
		}
	}
	if !byToken {
		if err := acc.CheckPassword(ctx, in.NewPassword, u.Email, u.Name); err != nil {
			// The code was right: the user may try another password
			// (or the same once the breach check answers again).
			giveBack("a refused password")
			p.resetFailed(w, r, in, passwordRefusal(err))
			return
		}
	}
	hash, err := p.s.deps.Hasher.Hash(ctx, in.NewPassword)
	if err != nil {
		giveBack("a failed hash")
		if ctx.Err() == nil {
			p.s.log.Error("password hashing failed", zapErr(err))
			p.s.writeError(w, r, errInternal)
		}
		return
	}
	if t.Purpose == invitationPurpose {
		p.finishInvitation(w, r, in, t, hash)
		return
	}
	p.finishReset(w, r, in, t, hash)
}

// peekResetOrInvitation finds the live grant of a token on the reset
// page: a reset link, or an invitation's set-password link.
func (s *Service) peekResetOrInvitation(ctx context.Context, tok string) (*store.OneTimeToken, grantKind, error) {
	if s.resetOn(ctx) {
		k := s.resetKind()
		if t, err := s.peekGrant(ctx, k, tok); !errors.Is(err, errGrantInvalid) {
			return t, k, err
		}
	}
	k := invitationKind()
	t, err := s.peekGrant(ctx, k, tok)
	return t, k, err
}

// finishInvitation sets the first password of an invited account and
// makes it active; like a reset it does not sign in.
func (p *portal) finishInvitation(w http.ResponseWriter, r *http.Request, in resetInput, t *store.OneTimeToken, hash string) {
	ctx := r.Context()
	u, err := p.s.deps.Users.UserByID(ctx, t.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.Status != store.StatusInvited {
		p.resetRefused(w, r, in, u, "", "not_invited")
		return
	}
	if err != nil {
		p.s.storeFailure(w, r, "accept invitation", err)
		return
	}
	if err := p.s.Accounts().AcceptInvitation(ctx, p.s.actor(r, ActorReset), u, hash); err != nil {
		p.s.storeFailure(w, r, "accept invitation", err)
		return
	}
	p.s.log.Info("invitation accepted", zapUser(u.ID))
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"password_reset": true, "invitation_accepted": true, "signed_in": false})
		return
	}
	p.s.render(w, r, http.StatusOK, &resetView{layout: layout{Title: "Password set"}, Done: true, Email: u.Email})
}

// finishReset stores the password of the grant's user (read afresh: a
// disable since the request wins) and answers.
func (p *portal) finishReset(w http.ResponseWriter, r *http.Request, in resetInput, t *store.OneTimeToken, hash string) {
	ctx := r.Context()
	u, err := p.s.deps.Users.UserByID(ctx, t.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !u.SignsIn() {
		p.resetRefused(w, r, in, u, "", "disabled")
		return
	}
	if err != nil {
		p.s.storeFailure(w, r, "reset password", err)
		return
	}
	ended, err := p.s.Accounts().ResetPassword(ctx, p.s.actor(r, ActorReset), u, hash)
	if err == nil && u.Status == store.StatusPending {
		// A pending registration's only reset channel is its email: the
		// reset proved the address, so it counts as verified.
		err = p.verifiedByReset(r, u)
	}
	var inc *IncompleteError
	switch {
	case errors.As(err, &inc):
		// The password is set, and older sessions die at their next check
		// (PasswordChangedAt); the rest is logged.
		p.s.log.Warn("password reset, but a follow-up step failed", zapUser(u.ID), zapErr(err))
	case err != nil:
		p.s.storeFailure(w, r, "reset password", err)
		return
	}
	p.s.log.Info("password reset", zapUser(u.ID))
	ip := p.s.cfg.ClientIP(r)
	_ = p.s.notify(ctx, notify.Message{
		Kind: notify.KindPasswordChanged, Channel: notify.Email, To: u.Email, UserID: u.ID,
		Data: map[string]string{
			notify.DataName: u.Name, notify.DataIP: ip, notify.DataUserAgent: limitRunes(r.UserAgent(), 200),
			notify.DataTime: p.s.cfg.Now().UTC().Format("2006-01-02 15:04 MST"),
		},
	})
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"password_reset": true, "signed_in": false, "sessions_ended": ended})
		return
	}
	p.s.render(w, r, http.StatusOK, &resetView{layout: layout{Title: "Password changed"}, Done: true, Email: u.Email})
}

// resetRefused answers a token or code that is not (or no longer) valid,
// and audits it. u is the account when known.
func (p *portal) resetRefused(w http.ResponseWriter, r *http.Request, in resetInput, u *store.User, ident, reason string) {
	ev := audit.Event{Type: audit.PasswordResetFailed, Reason: reason}
	if ident != "" {
		ev.Email = auditIdentifier(ident)
	}
	if u != nil {
		ev.UserID, ev.Email = u.ID, u.Email
	}
	p.s.audit(r, ev)
	p.resetFailed(w, r, in, errResetTokenInvalid)
}

func (p *portal) resetFailed(w http.ResponseWriter, r *http.Request, in resetInput, e *APIError) {
	if e == errResetDisabled {
		p.s.writeError(w, r, e)
		return
	}
	tok := in.Token
	if e == errResetTokenInvalid || !wellFormedToken(tok) {
		tok = ""
	}
	email := in.Email
	if email == "" {
		email = in.Phone
	}
	p.s.fail(w, r, e, func() view {
		return &resetView{
			layout: layout{Title: "Choose a new password"}, ResetToken: tok, Email: email,
			PhoneLogin: p.s.hasChannel(notify.SMS), Expired: e == errResetTokenInvalid,
		}
	})
}

func (p *portal) forgotFailed(w http.ResponseWriter, r *http.Request, in forgotInput, e *APIError) {
	if e == errResetDisabled {
		p.s.writeError(w, r, e)
		return
	}
	email := in.Email
	if email == "" {
		email = in.Phone
	}
	p.s.fail(w, r, e, func() view {
		return &forgotView{layout: layout{Title: "Reset your password"}, Email: email, PhoneLogin: p.s.hasChannel(notify.SMS)}
	})
}

// recoveryAllowed spends one token of each bucket (address block, then
// identifier when idLim and ident are set) and answers 429 when one is
// empty. Every identifier meets the same buckets, so a refusal tells
// nothing about the account.
func (p *portal) recoveryAllowed(w http.ResponseWriter, r *http.Request, in any, ident, kind string, ipLim, idLim ratelimit.Limiter) bool {
	ctx := r.Context()
	now := p.s.cfg.Now()
	checks := []struct {
		lim ratelimit.Limiter
		key string
	}{{ipLim, ratelimit.AddressKey(p.s.cfg.ClientIP(r))}}
	if idLim != nil && ident != "" {
		checks = append(checks, struct {
			lim ratelimit.Limiter
			key string
		}{idLim, kind + ":" + ident})
	}
	for _, c := range checks {
		ok, wait, err := c.lim.Allow(ctx, c.key, now)
		if err != nil {
			p.s.storeFailure(w, r, "rate limit", err)
			return false
		}
		if !ok {
			p.s.obs.Limited(kind)
			p.s.audit(r, audit.Event{Type: audit.RateLimited, Email: auditIdentifier(ident), Reason: kind})
			retryAfter(w, wait)
			switch v := in.(type) {
			case forgotInput:
				p.forgotFailed(w, r, v, errResetLimited)
			case resetInput:
				p.resetFailed(w, r, v, errResetLimited)
			default:
				p.s.writeError(w, r, errResetLimited)
			}
			return false
		}
	}
	return true
}

// recoveryIdentifier judges the email or phone of a recovery request:
// exactly one, of a valid shape (no secret: the answer says what is
// wrong, before any lookup).
func recoveryIdentifier(email, phone string) (ident string, byPhone bool, e *APIError) {
	if phone == "" && strings.HasPrefix(strings.TrimSpace(email), "+") {
		// One field takes either, as at the login form.
		email, phone = "", email
	}
	switch {
	case email != "" && phone != "":
		return "", false, invalidInput("Send the email or the phone number, not both.")
	case phone != "":
		p := NormalizePhone(phone)
		if !ValidPhone(p) {
			return "", false, invalidInput("Enter the phone number in international format, such as +15550100000.")
		}
		return p, true, nil
	case email != "":
		if nonASCII(email) {
			return "", false, errEmailNotASCII
		}
		e := NormalizeEmail(email)
		if !ValidEmail(e) {
			return "", false, invalidInput("Enter a valid email address.")
		}
		return e, false, nil
	}
	return "", false, invalidInput("Enter your email address.")
}

// lookupIdentifier finds the account of an email or phone; nil, nil when
// there is none, or when the phone is on an account but not verified (an
// unverified phone identifies nobody: issue 12 item 8).
func (s *Service) lookupIdentifier(ctx context.Context, ident string, byPhone bool) (*store.User, error) {
	var u *store.User
	var err error
	if byPhone {
		u, err = s.deps.Users.UserByPhone(ctx, ident)
	} else {
		u, err = s.deps.Users.UserByEmail(ctx, ident)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err == nil && byPhone && u.VerifiedPhone() == "" {
		return nil, nil
	}
	return u, err
}

// portalURL is the absolute URL of a portal path for a message: the
// request's scheme and host (the site Caddy matched) and the base.
func (p *portal) portalURL(r *http.Request, path string) string {
	return requestScheme(r) + "://" + r.Host + p.base + path
}

// humanDuration words a lifetime for a message ("15 minutes", "7 days").
func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	case d >= 2*time.Hour && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + " hours"
	case d >= 2*time.Minute:
		return strconv.Itoa(int(d/time.Minute)) + " minutes"
	}
	return strconv.Itoa(int(d/time.Second)) + " seconds"
}

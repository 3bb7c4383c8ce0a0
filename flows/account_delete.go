package flows

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

// Deleting one's own account (POST /auth/account/delete). One rule for
// every account, whatever its session passed before (docs/security.md):
//   - an account with a password gives it again (current_password);
//   - an account with an authenticator also gives a fresh second factor
//     (code: a TOTP code or a recovery code), even when its session passed
//     MFA a minute ago: an unlocked computer left alone must not be enough
//     to erase the account;
//   - an account with neither (OAuth only, no authenticator) must have
//     signed in within freshSignIn.
//
// The password meets the login's identifier bucket and lockout, the code
// the challenge's per-user bucket, per-session attempts and account
// lockout, exactly as at sign-in: deletion is no side door for guessing.
const freshSignIn = 5 * time.Minute

// CodeReauthRequired: the action needs a sign-in fresher than the
// session's (an account with no password and no second factor).
const CodeReauthRequired = "REAUTHENTICATION_REQUIRED"

var (
	errReauthRequired = apiErr(http.StatusForbidden, CodeReauthRequired, "Sign in again, then delete the account within 5 minutes.")
	errDeleteNeedsPW  = invalidInput("Enter your current password to delete the account.")
	errDeleteNeedsMFA = apiErr(http.StatusUnauthorized, CodeMFARequired, "Enter a code from your authenticator app, or a recovery code, to delete the account.")
)

type deleteAccountInput struct {
	CurrentPassword string `json:"current_password"`
	Code            string `json:"code"`
}

// leaveNeeds is what an account must give to delete itself.
type leaveNeeds struct {
	Password bool `json:"current_password"`
	Code     bool `json:"code"`
	// Fresh: neither applies; the session must be younger than
	// freshSignIn.
	Fresh bool `json:"fresh_sign_in"`
}

func needsOf(u *store.User, st *mfaState) leaveNeeds {
	n := leaveNeeds{Password: u.PasswordHash != "", Code: st.enrolled}
	n.Fresh = !n.Password && !n.Code
	return n
}

// deleteAccountPage: GET /auth/account/delete, the confirmation form
// (pages work without JavaScript), or for API clients what to send.
func (p *portal) deleteAccountPage(w http.ResponseWriter, r *http.Request, c *caller) {
	u := &c.id.User
	st, err := p.s.mfaState(r.Context(), u)
	if err != nil {
		p.s.storeFailure(w, r, "account delete", err)
		return
	}
	n := needsOf(u, st)
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"delete": p.base + "/account/delete", "needs": n})
		return
	}
	p.s.render(w, r, http.StatusOK, &accountDeleteView{layout: layout{Title: "Delete your account"}, Email: u.Email, Needs: n})
}

// deleteAccount: POST /auth/account/delete with current_password and, for
// an enrolled account, code. Answers 200 {"deleted": true} and clears the
// cookie; the account is gone on every instance.
func (p *portal) deleteAccount(w http.ResponseWriter, r *http.Request, c *caller) {
	id := c.id
	var in deleteAccountInput
	if e := decode(r, &in, map[string]*string{"current_password": &in.CurrentPassword, "code": &in.Code}); e != nil {
		p.s.writeError(w, r, e)
		return
	}
	ctx := r.Context()
	// A fresh row: the session cache may hold the user for a few seconds.
	u, err := p.s.deps.Users.UserByID(ctx, id.User.ID)
	if err != nil {
		p.s.storeFailure(w, r, "account delete", err)
		return
	}
	if !u.Active() {
		p.s.writeError(w, r, errUnauthenticated)
		return
	}
	st, err := p.s.mfaState(ctx, u)
	if err != nil {
		p.s.storeFailure(w, r, "account delete", err)
		return
	}
	need := needsOf(u, st)
	form := func() view {
		return &accountDeleteView{layout: layout{Title: "Delete your account"}, Email: u.Email, Needs: need}
	}
	refuse := func(e *APIError, reason string) {
		p.s.audit(r, audit.Event{Type: audit.UserDeleteFailed, UserID: u.ID, Email: u.Email, Reason: reason})
		p.s.fail(w, r, e, form)
	}
	now := p.s.cfg.Now()
	confirmed := make([]string, 0, 2)
	var pwAtt *checkAttempt
	if need.Password {
		if in.CurrentPassword == "" {
			p.s.fail(w, r, errDeleteNeedsPW, form)
			return
		}
		att, ok := p.confirmPassword(w, r, u, in.CurrentPassword, now, refuse)
		if !ok {
			return
		}
		// A wrong code after the right password refunds the password's
		// attempt; only a confirmed deletion counts it as a success.
		defer p.release(ctx, att)
		pwAtt = att
		confirmed = append(confirmed, store.AuthPassword)
	}
	if need.Code {
		if strings.TrimSpace(in.Code) == "" {
			p.s.fail(w, r, errDeleteNeedsMFA, form)
			return
		}
		method, ok := p.confirmFactor(w, r, id, c.token, st, in.Code, now, refuse)
		if !ok {
			return
		}
		confirmed = append(confirmed, method)
	}
	if need.Fresh && now.Sub(id.Session.CreatedAt) > freshSignIn {
		refuse(errReauthRequired, "sign_in_not_fresh")
		return
	}
	if pwAtt != nil {
		if err := pwAtt.Succeeded(ctx); err != nil {
			p.s.log.Warn("lockout not cleared before an account deletion", zapErr(err))
		}
	}
	n, err := p.s.Accounts().Leave(ctx, p.s.actor(r, ActorSelf), u)
	var inc *IncompleteError
	switch {
	case errors.As(err, &inc):
		// The account is gone; a lockout entry outlives it until it
		// expires. Not the user's concern.
		p.s.log.Warn("account deleted, lockout entries not cleared", zapUser(u.ID), zapErr(inc.Err))
	case err != nil:
		p.s.storeFailure(w, r, "account delete", err)
		return
	}
	p.s.log.Info("account deleted by its user", zapUser(u.ID), zap.Int("sessions", n), zap.Strings("confirmed", confirmed))
	if p.s.hasChannel(notify.Email) {
		// Without a user id: the queued row would reference the user just
		// deleted (and the cascade drops the user's mail).
		_ = p.s.notify(ctx, notify.Message{
			Kind: notify.KindAccountDeleted, Channel: notify.Email, To: u.Email,
			Data: map[string]string{
				notify.DataName: u.Name, notify.DataIP: p.s.cfg.ClientIP(r),
				notify.DataUserAgent: limitRunes(r.UserAgent(), 200), notify.DataTime: now.UTC().Format("2006-01-02 15:04 MST"),
			},
		})
	}
	p.s.clearSessionCookie(w)
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"deleted": true})
		return
	}
	p.s.render(w, r, http.StatusOK, &accountDeleteView{layout: layout{Title: "Account deleted"}, Email: u.Email, Done: true})
}

// confirmFactor checks a fresh second-factor answer through the factor
// seam under the challenge's limits: a six-digit code is the
// authenticator's, anything else a recovery code. It reports the method
// that passed; on failure it has answered.
func (p *portal) confirmFactor(w http.ResponseWriter, r *http.Request, id *session.Identity, tok string, st *mfaState, code string, now time.Time, refuse func(*APIError, string)) (string, bool) {
	ctx := r.Context()
	u := &id.User
	method := MethodRecovery
	if c := strings.TrimSpace(code); len(c) == 6 && strings.Trim(c, "0123456789") == "" {
		method = MethodTOTP
	}
	if p.mfaLocked(w, r, u, now, func(e *APIError) { refuse(e, "locked") }) {
		return "", false
	}
	if !p.mfaAllow(w, r, p.s.limits.mfaUser, BucketMFAUser, u, now, func(e *APIError) { refuse(e, "rate_limited") }) {
		return "", false
	}
	if allowed, _, err := p.s.limits.mfaAttempts.Allow(ctx, id.Session.ID, now); err != nil {
		p.s.storeFailure(w, r, "rate limit", err)
		return "", false
	} else if !allowed {
		p.s.obs.Limited(BucketMFAAttempts)
		refuse(errMFATooManyTries, "too_many_attempts")
		return "", false
	}
	att, wait, err := p.s.limits.mfaLock.Reserve(ctx, u.Email, mfaLockKey, now)
	if err != nil {
		p.s.storeFailure(w, r, "mfa lockout", err)
		return "", false
	}
	if att == nil {
		p.s.obs.Limited("mfa_lockout")
		retryAfter(w, wait)
		refuse(errMFALocked, "locked")
		return "", false
	}
	defer p.release(ctx, &checkAttempt{parts: []*ratelimit.Attempt{att}})
	e := errMFACodeInvalid
	if f := p.s.factors.get(method); f != nil {
		e = f.Verify(ctx, callFor(id, st, now), code)
	}
	if e != nil {
		if att.Failed() {
			p.mfaLockedNow(r, u, id, tok)
		}
		p.s.audit(r, audit.Event{Type: audit.MFAFailed, UserID: u.ID, Email: u.Email, Reason: "invalid_code", Detail: map[string]string{"method": method, "for": "account_delete"}})
		refuse(e, "invalid_code")
		return "", false
	}
	if err := att.Succeeded(ctx); err != nil {
		p.s.log.Warn("mfa lockout not cleared", zapUser(u.ID), zapErr(err))
	}
	return method, true
}

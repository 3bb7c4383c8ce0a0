package flows

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

type challengeInput struct {
	Method      string `json:"method"`
	Code        string `json:"code"`
	TrustDevice bool   `json:"trust_device"`
	RD          string `json:"rd"`
	// MFAToken is a bearer client's stage token (stageTokenFromBody has
	// already made it the caller's credential).
	MFAToken string `json:"mfa_token"`
}

func (p *portal) challengePage(w http.ResponseWriter, r *http.Request, c *caller) {
	id := c.id
	rd := p.returnTo(r, r.URL.Query().Get("rd"))
	if id.Session.Pending == store.PendingEnrol {
		p.redirectWithRD(w, r, p.base+"/mfa/setup", rd)
		return
	}
	st, err := p.s.mfaState(r.Context(), &id.User)
	if err != nil {
		p.s.storeFailure(w, r, "mfa", err)
		return
	}
	if id.Session.Full() && (StrongMFA(id.Session.MFAMethod) || len(st.methods) == 0) {
		// Already verified, or nothing to verify with: step-up means
		// setting up a factor first.
		if StrongMFA(id.Session.MFAMethod) {
			p.redirectWithRD(w, r, orDefault(rd, p.base+"/login"), "")
		} else {
			p.redirectWithRD(w, r, p.base+"/mfa/setup", rd)
		}
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"mfa_required": true, "methods": st.methods})
		return
	}
	p.s.render(w, r, http.StatusOK, p.challengeView(id, st, "", rd))
}

// challengeView is the challenge page for id's session and MFA state;
// sent is the masked destination of a code just sent.
func (p *portal) challengeView(id *session.Identity, st *mfaState, sent, rd string) *mfaChallengeView {
	v := &mfaChallengeView{layout: layout{Title: "Verify it's you"}, RD: rd, Methods: st.methods, Sent: sent, StepUp: id.Session.Full()}
	if len(st.methods) > 0 {
		v.Method = st.methods[0]
	}
	if p.s.cfg.MFA.TrustedDevice > 0 {
		v.TrustDays = int(p.s.cfg.MFA.TrustedDevice.Hours() / 24)
	}
	return v
}

func (p *portal) challenge(w http.ResponseWriter, r *http.Request, c *caller) {
	start, id, tok := c.start, c.id, c.token
	var in challengeInput
	var trustForm string
	if e := decode(r, &in, map[string]*string{"method": &in.Method, "code": &in.Code, "trust_device": &trustForm, "rd": &in.RD}); e != nil {
		p.s.writeError(w, r, e)
		return
	}
	in.TrustDevice = in.TrustDevice || trustForm == "on" || trustForm == "true" || trustForm == "1"
	rd := p.returnTo(r, in.RD)
	ctx := r.Context()
	u := &id.User
	if id.Session.Pending == store.PendingEnrol {
		p.s.writeError(w, r, errMFAStepUp)
		return
	}
	st, err := p.s.mfaState(ctx, u)
	if err != nil {
		p.s.storeFailure(w, r, "mfa", err)
		return
	}
	fail := func(e *APIError, reason string) {
		p.s.audit(r, audit.Event{Type: audit.MFAFailed, UserID: u.ID, Email: u.Email, Reason: reason, Detail: map[string]string{"method": in.Method}})
		p.s.fail(w, r, e, func() view { return p.challengeView(id, st, "", rd) })
	}
	if in.Method == "" && len(st.methods) > 0 {
		in.Method = st.methods[0]
	}
	if !slices.Contains(st.methods, in.Method) {
		fail(errMFAMethodNA, "method_not_available")
		return
	}
	now := p.s.cfg.Now()
	if p.mfaLocked(w, r, u, now, func(e *APIError) { fail(e, "locked") }) {
		return
	}
	// Per-user budget (many stages cannot multiply guesses), then the
	// stage's own: after mfaMaxAttempts codes the stage is dead.
	if !p.mfaAllow(w, r, p.s.limits.mfaUser, BucketMFAUser, u, now, func(e *APIError) { fail(e, "rate_limited") }) {
		return
	}
	if allowed, _, err := p.s.limits.mfaAttempts.Allow(ctx, id.Session.ID, now); err != nil {
		p.s.storeFailure(w, r, "rate limit", err)
		return
	} else if !allowed {
		if !id.Session.Full() {
			if err := p.s.deps.Sessions.Revoke(ctx, tok); err != nil {
				p.s.storeFailure(w, r, "mfa", err)
				return
			}
			p.s.clearSessionCookie(w)
		}
		p.s.obs.Limited(BucketMFAAttempts)
		fail(errMFATooManyTries, "too_many_attempts")
		return
	}
	// The code is taken from the account's second-factor budget before
	// it is checked, so concurrent codes cannot overrun it (issue 9 #3).
	att, wait, err := p.s.limits.mfaLock.Reserve(ctx, u.Email, mfaLockKey, now)
	if err != nil {
		p.s.storeFailure(w, r, "mfa lockout", err)
		return
	}
	if att == nil {
		p.s.obs.Limited("mfa_lockout")
		retryAfter(w, wait)
		fail(errMFALocked, "locked")
		return
	}
	defer p.release(ctx, &checkAttempt{parts: []*ratelimit.Attempt{att}})
	if e := p.checkCode(ctx, id, st, in.Method, in.Code, now); e != nil {
		reason := "invalid_code"
		if e == errMFACodeExpired {
			reason = "expired_code"
		}
		p.s.obs.Login("mfa_"+in.Method, "invalid_code", time.Since(start))
		if att.Failed() {
			p.mfaLockedNow(r, u, id, tok)
		}
		fail(e, reason)
		return
	}
	if err := att.Succeeded(ctx); err != nil {
		p.s.log.Warn("mfa lockout not cleared", zapUser(u.ID), zapErr(err))
	}
	p.s.obs.Login("mfa_"+in.Method, "success", time.Since(start))
	p.s.audit(r, audit.Event{Type: audit.MFAVerified, UserID: u.ID, Email: u.Email, Detail: map[string]string{"method": in.Method}})
	if n, ok := p.s.factors.get(in.Method).(usedNotice); ok {
		n.used(r, callFor(id, st, now))
	}
	var trustToken string
	if in.TrustDevice && p.s.cfg.MFA.TrustedDevice > 0 {
		trustToken = p.trustThisDevice(w, r, u)
	}
	p.upgrade(w, r, id, tok, in.Method, rd, map[string]any{"device_token": trustToken})
}

// checkCode verifies one answer with the method's factor; nil on success
// (the answer is then spent).
func (p *portal) checkCode(ctx context.Context, id *session.Identity, st *mfaState, method, code string, now time.Time) *APIError {
	f := p.s.factors.get(method)
	if f == nil {
		return errMFAMethodNA
	}
	return f.Verify(ctx, callFor(id, st, now), code)
}

// upgrade rotates the session into a full, MFA-level one and answers.
func (p *portal) upgrade(w http.ResponseWriter, r *http.Request, id *session.Identity, tok, method, rd string, extra map[string]any) {
	rot := mfaRotation(id, tok, method)
	if !id.Session.Full() {
		rot.Log, rot.LogFields = "login succeeded", []zap.Field{zap.String("mfa", method)}
	}
	bearer := bearerMode(r)
	rot.Cookie = !bearer
	nid := p.rotate(w, r, rot)
	if nid == nil {
		return
	}
	if bearer {
		body := map[string]any{"mfa": method}
		for k, v := range extra {
			body[k] = v
		}
		p.answerTokens(w, r, nid, body)
		return
	}
	if wantsJSON(r) {
		body := map[string]any{
			"authenticated": true, "user": viewOf(&id.User), "mfa": method,
			"expires_at": nid.Session.ExpiresAt.UTC().Format(time.RFC3339), "redirect": rd,
		}
		for k, v := range extra {
			if v != nil && v != "" {
				body[k] = v
			}
		}
		writeJSON(w, http.StatusOK, body)
		return
	}
	http.Redirect(w, r, orDefault(rd, p.base+"/login"), http.StatusSeeOther)
}

// mfaRotation replaces the caller's session (tok) with one at MFA level:
// no fixation across a privilege change. Ending a challenge stage is a
// login, and audited as one; a step-up of a full session is not.
func mfaRotation(id *session.Identity, tok, method string) rotation {
	rot := rotation{
		Op: "mfa", Revoke: revokeToken, Token: tok, SessionID: id.Session.ID, User: &id.User, Cookie: true,
		Session: session.Options{AuthMethod: orDefault(id.Session.AuthMethod, store.AuthPassword), MFAMethod: method},
	}
	if !id.Session.Full() {
		rot.Audit = audit.LoginSucceeded
	}
	return rot
}

type sendInput struct {
	Method   string `json:"method"`
	RD       string `json:"rd"`
	MFAToken string `json:"mfa_token"` // as in challengeInput
}

// sendCode begins the challenge of a factor that needs one (POST
// /mfa/send: a code we send); the locks and the send budget come first.
func (p *portal) sendCode(w http.ResponseWriter, r *http.Request, c *caller) {
	id := c.id
	var in sendInput
	if e := decode(r, &in, map[string]*string{"method": &in.Method, "rd": &in.RD}); e != nil {
		p.s.writeError(w, r, e)
		return
	}
	ctx := r.Context()
	u := &id.User
	st, err := p.s.mfaState(ctx, u)
	if err != nil {
		p.s.storeFailure(w, r, "mfa send", err)
		return
	}
	rd := p.returnTo(r, in.RD)
	f := p.s.factors.get(in.Method)
	if f == nil || !f.Begins() || !slices.Contains(st.methods, in.Method) || id.Session.Pending == store.PendingEnrol {
		p.s.writeError(w, r, errMFAMethodNA)
		return
	}
	now := p.s.cfg.Now()
	if p.mfaLocked(w, r, u, now, func(e *APIError) { p.s.writeError(w, r, e) }) {
		return
	}
	if !p.mfaAllow(w, r, p.s.limits.mfaSend, BucketMFASend, u, now, func(e *APIError) { p.s.writeError(w, r, e) }) {
		return
	}
	pr, err := f.Begin(ctx, callFor(id, st, now))
	if err != nil {
		var e *APIError
		if errors.As(err, &e) {
			p.s.writeError(w, r, e)
		} else {
			p.s.storeFailure(w, r, "mfa send", err)
		}
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"sent": true, "method": in.Method, "to": pr.Sent, "expires_in": int(pr.ExpiresIn.Seconds())})
		return
	}
	p.s.render(w, r, http.StatusOK, p.challengeView(id, st, pr.Sent, rd))
}

func (p *portal) redirectWithRD(w http.ResponseWriter, r *http.Request, to, rd string) {
	if rd != "" {
		to += "?rd=" + url.QueryEscape(rd)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

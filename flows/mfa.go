package flows

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/internal/totp"
	"github.com/caddyauth/gateway/store"
)

// MFA methods.
const (
	MethodTOTP     = "totp"
	MethodEmail    = "email"
	MethodSMS      = "sms"
	MethodRecovery = "recovery"
	// Second factors recorded on sessions that were not a typed code.
	MethodTrustedDevice = "trusted_device"
	MethodIdP           = "idp"
)

// StrongMFA reports whether a session's second factor was proven in this
// login (a code, or the IdP's MFA when trusted). A remembered device skips
// the challenge at login but does not count for changing factors or for the
// admin API: a password plus a stolen trust cookie must not take over MFA.
func StrongMFA(method string) bool { return method != "" && method != MethodTrustedDevice }

// AllMFAMethods is the default `mfa { methods }`.
var AllMFAMethods = []string{MethodTOTP, MethodEmail, MethodSMS, MethodRecovery}

// MFAConfig is the `mfa { }` global option.
type MFAConfig struct {
	// Required forces every user to pass a second factor (and to enrol
	// one right after the first password login).
	Required bool
	// Methods users may use (default AllMFAMethods). email and sms also
	// need a configured sender.
	Methods []string
	// TrustedDevice is how long a "trust this device" choice skips the
	// challenge (default 14 days; negative disables the choice).
	TrustedDevice time.Duration
	// TrustCookie names the trust cookie (default derived like the session
	// cookie: "__Host-caddyauth_trust"); TrustHeader carries the same token
	// for non-browser clients (default "nest_auth_device_trust").
	TrustCookie string
	TrustHeader string
	// Issuer labels the account in authenticator apps (default "caddyauth").
	Issuer string
}

// MFA tuning that is not configuration.
const (
	challengeTTL   = 10 * time.Minute // a challenge stage dies after this
	mfaCodeTTL     = 10 * time.Minute // emailed / texted codes
	mfaMaxAttempts = 5                // wrong codes per challenge stage
	mfaCodePurpose = "mfa_code"
)

var (
	errMFARequired       = apiErr(http.StatusUnauthorized, CodeMFARequired, "A second factor is required. Sign in again to continue.")
	errMFAStepUp         = apiErr(http.StatusForbidden, CodeMFARequired, "This requires a second factor. Verify with your authenticator to continue.")
	errMFACodeInvalid    = apiErr(http.StatusUnauthorized, CodeMFACodeInvalid, "That code is not valid.")
	errMFACodeExpired    = apiErr(http.StatusUnauthorized, CodeMFACodeExpired, "That code has expired. Request a new one.")
	errMFAMethodNA       = apiErr(http.StatusBadRequest, CodeMFAMethodNotAvailable, "That verification method is not available for this account.")
	errMFATooManyTries   = apiErr(http.StatusUnauthorized, CodeMFARequired, "Too many wrong codes. Sign in again.")
	errMFARateLimited    = apiErr(http.StatusTooManyRequests, CodeRateLimited, "Too many attempts. Wait a moment and try again.")
	errMFALastFactor     = apiErr(http.StatusConflict, CodeConflict, "A second factor is required here; add another authenticator before removing this one.")
	errMFANotEnrolled    = apiErr(http.StatusConflict, CodeConflict, "There is no authenticator waiting for confirmation. Start the setup again.")
	errMFAEnrolNeedsStep = apiErr(http.StatusForbidden, CodeMFARequired, "Verify with your current second factor before changing your MFA settings.")
	errPasswordNeedsStep = apiErr(http.StatusForbidden, CodeMFARequired, "Verify with your second factor before changing your password.")
)

func (c *MFAConfig) setDefaults(cookie CookieConfig) error {
	if len(c.Methods) == 0 {
		c.Methods = AllMFAMethods
	}
	for _, m := range c.Methods {
		if !slices.Contains(AllMFAMethods, m) {
			return fmt.Errorf("mfa: unknown method %q (want totp, email, sms or recovery)", m)
		}
	}
	if c.TrustedDevice == 0 {
		c.TrustedDevice = 14 * 24 * time.Hour
	}
	if c.TrustCookie == "" {
		base := strings.TrimPrefix(strings.TrimPrefix(cookie.Name, "__Host-"), "__Secure-")
		c.TrustCookie = CookieName(base+"_trust", cookie.Domain, cookie.Insecure)
	}
	if c.TrustHeader == "" {
		c.TrustHeader = "nest_auth_device_trust"
	}
	if c.Issuer == "" {
		c.Issuer = "caddyauth"
	}
	return nil
}

func (s *Service) mfaAllowed(m string) bool { return slices.Contains(s.cfg.MFA.Methods, m) }

// hasChannel reports whether messages on channel can be delivered.
func (s *Service) hasChannel(channel string) bool {
	if _, none := s.deps.Outbox.(noOutbox); none {
		return false
	}
	if q, ok := s.deps.Outbox.(interface{ Has(string) bool }); ok {
		return q.Has(channel)
	}
	return true
}

// mfaState is what a user can do as a second factor.
type mfaState struct {
	devices  []*store.TOTPDevice // confirmed only
	enrolled bool                // has a confirmed authenticator
	methods  []string            // usable challenge methods, in display order
}

func (s *Service) mfaState(ctx context.Context, u *store.User) (*mfaState, error) {
	all, err := s.deps.MFA.ListTOTP(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	st := &mfaState{}
	for _, d := range all {
		if d.Confirmed() {
			st.devices = append(st.devices, d)
		}
	}
	st.enrolled = len(st.devices) > 0
	active := st.enrolled || s.cfg.MFA.Required
	if st.enrolled && s.mfaAllowed(MethodTOTP) {
		st.methods = append(st.methods, MethodTOTP)
	}
	if active && s.mfaAllowed(MethodEmail) && s.hasChannel(notify.Email) && u.Email != "" {
		st.methods = append(st.methods, MethodEmail)
	}
	if active && s.mfaAllowed(MethodSMS) && s.hasChannel(notify.SMS) && u.Phone != "" {
		st.methods = append(st.methods, MethodSMS)
	}
	if st.enrolled && s.mfaAllowed(MethodRecovery) {
		n, err := s.deps.MFA.CountRecoveryCodes(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			st.methods = append(st.methods, MethodRecovery)
		}
	}
	return st, nil
}

// needsEnrolment: MFA is required, the user has no authenticator yet and
// authenticator apps are allowed, so the first login must set one up.
func (s *Service) needsEnrolment(st *mfaState) bool {
	return s.cfg.MFA.Required && !st.enrolled && s.mfaAllowed(MethodTOTP)
}

// mfaRoutes registers the MFA endpoints.
func (p *portal) mfaRoutes(mux *http.ServeMux) {
	b := p.base + "/mfa"
	mux.HandleFunc("GET "+b+"/challenge", p.challengePage)
	mux.HandleFunc("POST "+b+"/challenge", p.challenge)
	mux.HandleFunc("POST "+b+"/send", p.sendCode)
	mux.HandleFunc("GET "+b, p.mfaSettings)
	mux.HandleFunc("GET "+b+"/setup", p.setupTOTPPage)
	mux.HandleFunc("POST "+b+"/totp/setup", p.setupTOTP)
	mux.HandleFunc("POST "+b+"/totp/verify", p.verifyTOTP)
	mux.HandleFunc("DELETE "+b+"/totp/{id}", p.deleteTOTP)
	mux.HandleFunc("POST "+b+"/totp/{id}/delete", p.deleteTOTP)
	mux.HandleFunc("GET "+b+"/recovery-codes", p.recoveryCount)
	mux.HandleFunc("POST "+b+"/recovery-codes", p.regenerateRecovery)
	mux.HandleFunc("GET "+b+"/trusted-devices", p.listTrusted)
	mux.HandleFunc("DELETE "+b+"/trusted-devices/{id}", p.deleteTrusted)
	mux.HandleFunc("POST "+b+"/trusted-devices/{id}/delete", p.deleteTrusted)
}

// completeLogin is where every first factor ends: it applies the MFA policy
// (a challenge stage, an enrolment stage or a full session) and answers.
func (p *portal) completeLogin(w http.ResponseWriter, r *http.Request, u *store.User, f firstFactor, rd string) bool {
	ctx := r.Context()
	st, err := p.s.mfaState(ctx, u)
	if err != nil {
		p.s.storeFailure(w, r, "login mfa state", err)
		return false
	}
	if f.IdPMFA {
		return p.startSessionWith(w, r, u, session.Options{AuthMethod: f.Method, MFAMethod: MethodIdP}, rd)
	}
	switch {
	case p.s.needsEnrolment(st):
		return p.startStage(w, r, u, f, store.PendingEnrol, []string{MethodTOTP}, rd)
	case st.enrolled || (p.s.cfg.MFA.Required && len(st.methods) > 0):
		if dev := p.s.trustedDevice(r, u); dev != "" {
			return p.startSessionWith(w, r, u, session.Options{AuthMethod: f.Method, MFAMethod: MethodTrustedDevice}, rd)
		}
		return p.startStage(w, r, u, f, store.PendingMFA, st.methods, rd)
	case p.s.cfg.MFA.Required:
		// Required, but this account has nothing it could pass.
		p.s.log.Warn("mfa required but no method is usable for this account", zapUser(u.ID))
		p.s.writeError(w, r, errMFAMethodNA)
		return false
	}
	return p.startSession(w, r, u, f, rd)
}

// startStage opens a short challenge or enrolment stage session.
func (p *portal) startStage(w http.ResponseWriter, r *http.Request, u *store.User, f firstFactor, stage string, methods []string, rd string) bool {
	ctx := r.Context()
	if !p.revokeCurrent(w, r) {
		return false
	}
	id, err := p.s.deps.Sessions.CreateWith(ctx, u, session.Options{
		IP: p.s.cfg.ClientIP(r), UserAgent: r.UserAgent(), AuthMethod: f.Method,
		Pending: stage, Lifetime: challengeTTL,
	})
	if err != nil {
		p.s.storeFailure(w, r, "login create session", err)
		return false
	}
	p.s.setSessionCookie(w, id)
	target := p.returnTo(r, rd)
	next := p.base + "/mfa/challenge"
	if stage == store.PendingEnrol {
		next = p.base + "/mfa/setup"
	}
	if wantsJSON(r) {
		body := map[string]any{"mfa_required": true, "methods": methods, "next": next, "redirect": target}
		if stage == store.PendingEnrol {
			body["enrol"] = true
		}
		writeJSON(w, http.StatusOK, body)
		return true
	}
	if target != "" {
		next += "?rd=" + url.QueryEscape(target)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return true
}

// revokeCurrent ends whatever session the browser holds (login rotation).
func (p *portal) revokeCurrent(w http.ResponseWriter, r *http.Request) bool {
	var buf [maxSessionCookies]string
	for _, old := range p.s.sessionCookies(r, &buf) {
		if _, err := p.s.deps.Sessions.RevokeLive(r.Context(), old); err != nil {
			p.s.storeFailure(w, r, "login rotate", err)
			return false
		}
	}
	return true
}

// trustedDevice returns the stored id of a valid trust token of u presented
// by the client (cookie or header), or "".
func (s *Service) trustedDevice(r *http.Request, u *store.User) string {
	if s.cfg.MFA.TrustedDevice < 0 {
		return ""
	}
	var toks []string
	if c, err := r.Cookie(s.cfg.MFA.TrustCookie); err == nil {
		toks = append(toks, c.Value)
	}
	if h, ok := r.Context().Value(trustHeaderKey{}).(string); ok {
		toks = append(toks, h)
	}
	for _, t := range toks {
		if len(t) != 43 {
			continue
		}
		d, err := s.deps.MFA.GetTrustedDevice(r.Context(), keys.HashToken(t), s.cfg.Now())
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				s.log.Warn("trusted device lookup failed; asking for the second factor", zapErr(err))
			}
			continue
		}
		if d.UserID == u.ID {
			return d.ID
		}
	}
	return ""
}

type trustHeaderKey struct{}

// takeTrustHeader moves the trust token out of the request headers (so it
// is neither logged by the access log nor sent upstream) into the context.
// Both spellings are read: Caddy drops header names with underscores unless
// the server lists them in expected_underscore_headers, so clients behind a
// default Caddy send Nest-Auth-Device-Trust.
func (s *Service) takeTrustHeader(r *http.Request) *http.Request {
	name := s.cfg.MFA.TrustHeader
	alt := strings.ReplaceAll(name, "_", "-")
	v := r.Header.Get(name)
	if v == "" {
		v = r.Header.Get(alt)
	}
	if v == "" {
		return r
	}
	r.Header.Del(name)
	r.Header.Del(alt)
	return r.WithContext(context.WithValue(r.Context(), trustHeaderKey{}, v))
}

// TrustHeader is the configured trusted-device header name.
func (s *Service) TrustHeader() string { return s.cfg.MFA.TrustHeader }

// ---- challenge ----

type challengeInput struct {
	Method      string `json:"method"`
	Code        string `json:"code"`
	TrustDevice bool   `json:"trust_device"`
	RD          string `json:"rd"`
}

// mfaPage feeds the MFA templates.
type mfaPage struct {
	Methods       []string
	Method        string
	Sent          string // masked destination of a code just sent
	TrustDays     int
	StepUp        bool
	Secret        string
	QR            template.URL // data: URI of the PNG we generated (safe by construction)
	DeviceID      string
	RecoveryCodes []string
	Devices       []deviceView
	Trusted       []trustedView
	RecoveryLeft  int
	Required      bool
	Enrol         bool
}

func (p *portal) challengeSession(w http.ResponseWriter, r *http.Request) (*session.Identity, string, bool) {
	id, tok, err := p.s.identifyAny(r)
	if err != nil {
		p.s.storeFailure(w, r, "mfa", err)
		return nil, "", false
	}
	if id == nil {
		if wantsHTML(r) && r.Method == http.MethodGet {
			http.Redirect(w, r, p.base+"/login", http.StatusSeeOther)
		} else {
			p.s.writeError(w, r, errUnauthenticated)
		}
		return nil, "", false
	}
	return id, tok, true
}

func (p *portal) challengePage(w http.ResponseWriter, r *http.Request) {
	id, _, ok := p.challengeSession(w, r)
	if !ok {
		return
	}
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
	p.renderChallenge(w, r, http.StatusOK, id, st, "", rd, nil)
}

func (p *portal) renderChallenge(w http.ResponseWriter, r *http.Request, status int, id *session.Identity, st *mfaState, sent, rd string, e *APIError) {
	m := &mfaPage{Methods: st.methods, Sent: sent, StepUp: id.Session.Full()}
	if len(st.methods) > 0 {
		m.Method = st.methods[0]
	}
	if p.s.cfg.MFA.TrustedDevice > 0 {
		m.TrustDays = int(p.s.cfg.MFA.TrustedDevice.Hours() / 24)
	}
	p.s.render(w, r, status, "mfa_challenge.html", pageData{Title: "Verify it's you", RD: rd, Error: e, MFA: m})
}

func (p *portal) challenge(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id, tok, ok := p.challengeSession(w, r)
	if !ok {
		return
	}
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
		p.s.obs.Error(e.Code)
		p.s.audit(r, audit.Event{Type: audit.MFAFailed, UserID: u.ID, Email: u.Email, Reason: reason, Detail: map[string]string{"method": in.Method}})
		if wantsHTML(r) {
			p.renderChallenge(w, r, e.Status, id, st, "", rd, e)
			return
		}
		writeJSON(w, e.Status, e)
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
	if !p.mfaAllow(w, r, p.s.limits.mfaUser, "mfa_user", u, now, func(e *APIError) { fail(e, "rate_limited") }) {
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
		p.s.obs.Limited("mfa_attempts")
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
	if in.Method == MethodRecovery {
		p.s.audit(r, audit.Event{Type: audit.RecoveryCodeUsed, UserID: u.ID, Email: u.Email})
		_ = p.s.notify(ctx, notify.Message{Kind: notify.KindRecoveryCodeUsed, Channel: notify.Email, To: u.Email, UserID: u.ID,
			Data: map[string]string{notify.DataName: u.Name, notify.DataIP: p.s.cfg.ClientIP(r),
				notify.DataUserAgent: limitRunes(r.UserAgent(), 200), notify.DataTime: p.s.cfg.Now().UTC().Format("2006-01-02 15:04 MST")}})
	}
	var trustToken string
	if in.TrustDevice && p.s.cfg.MFA.TrustedDevice > 0 {
		trustToken = p.trustThisDevice(w, r, u)
	}
	p.upgrade(w, r, id, tok, in.Method, rd, map[string]any{"device_token": trustToken})
}

// mfaLockKey is the lockout "address" of an account's second-factor lock:
// one per account whatever the client address, so new logins from new
// addresses do not buy new guesses.
const mfaLockKey = "mfa"

var errMFALocked = apiErr(http.StatusTooManyRequests, CodeAccountLocked, "Too many wrong codes for this account. Try again later, or ask an administrator to unlock it.")

// mfaAllow spends one token of u's bucket in lim; when it is empty it
// answers 429 RATE_LIMITED through fail (a store error: 503) and reports
// false.
func (p *portal) mfaAllow(w http.ResponseWriter, r *http.Request, lim ratelimit.Limiter, kind string, u *store.User, now time.Time, fail func(*APIError)) bool {
	allowed, wait, err := lim.Allow(r.Context(), u.ID, now)
	if err != nil {
		p.s.storeFailure(w, r, "rate limit", err)
		return false
	}
	if !allowed {
		p.s.obs.Limited(kind)
		p.s.audit(r, audit.Event{Type: audit.RateLimited, UserID: u.ID, Email: u.Email, Reason: kind})
		retryAfter(w, wait)
		fail(errMFARateLimited)
	}
	return allowed
}

// mfaLocked answers (through fail) when the account's second factor is
// locked, and reports whether it did.
func (p *portal) mfaLocked(w http.ResponseWriter, r *http.Request, u *store.User, now time.Time, fail func(*APIError)) bool {
	locked, wait, err := p.s.limits.mfaLock.Locked(r.Context(), u.Email, mfaLockKey, now)
	if err != nil {
		p.s.storeFailure(w, r, "mfa lockout", err)
		return true
	}
	if !locked {
		return false
	}
	p.s.obs.Limited("mfa_lockout")
	retryAfter(w, wait)
	fail(errMFALocked)
	return true
}

// mfaLockedNow records that wrong codes just locked the account's second
// factor: audit, a notice to the user (someone has their password), and
// the stage ends.
func (p *portal) mfaLockedNow(r *http.Request, u *store.User, id *session.Identity, tok string) {
	ctx := r.Context()
	p.s.log.Warn("second factor locked for this account after repeated wrong codes", zapUser(u.ID), zapIP(p.s.cfg.ClientIP(r)))
	p.s.audit(r, audit.Event{Type: audit.LockedOut, UserID: u.ID, Email: u.Email, Reason: "mfa"})
	_ = p.s.notify(ctx, notify.Message{Kind: notify.KindAccountLocked, Channel: notify.Email, To: u.Email, UserID: u.ID,
		Data: map[string]string{notify.DataName: u.Name, notify.DataIP: p.s.cfg.ClientIP(r)}})
	if !id.Session.Full() {
		_ = p.s.deps.Sessions.Revoke(ctx, tok)
	}
}

// checkCode verifies one code; nil on success (the code is then spent).
func (p *portal) checkCode(ctx context.Context, id *session.Identity, st *mfaState, method, code string, now time.Time) *APIError {
	u := &id.User
	switch method {
	case MethodTOTP:
		for _, d := range st.devices {
			secret, err := p.s.keys.Open("totp", d.Secret, []byte(u.ID))
			if err != nil {
				p.s.log.Error("totp secret does not open (was the secret changed without previous_secret?)", zapUser(u.ID), zap.String("device", d.ID))
				continue
			}
			step, ok := totp.Match(string(secret), code, now, d.LastStep)
			if !ok {
				continue
			}
			if err := p.s.deps.MFA.UseTOTPStep(ctx, u.ID, d.ID, step); err != nil {
				if !errors.Is(err, store.ErrConflict) {
					p.s.log.Error("totp step not recorded", zapErr(err))
				}
				return errMFACodeInvalid // raced by a replay: refuse
			}
			return nil
		}
		return errMFACodeInvalid
	case MethodRecovery:
		norm := totp.NormalizeRecovery(code)
		if len(norm) != totp.RecoveryLength {
			return errMFACodeInvalid
		}
		if err := p.s.deps.MFA.UseRecoveryCode(ctx, u.ID, recoveryHash(u.ID, norm)); err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				p.s.log.Error("recovery code check failed", zapErr(err))
			}
			return errMFACodeInvalid
		}
		return nil
	case MethodEmail, MethodSMS:
		code = strings.TrimSpace(code)
		if len(code) != 6 {
			return errMFACodeInvalid
		}
		hs := p.s.keys.MACs("mfa-code", id.Session.ID, method, code)
		for _, h := range hs {
			if _, err := p.s.deps.Tokens.ConsumeToken(ctx, h, mfaCodePurpose, now); err == nil {
				return nil
			}
		}
		for _, h := range hs {
			if _, err := p.s.deps.Tokens.PeekToken(ctx, h, mfaCodePurpose, time.Time{}); err == nil {
				return errMFACodeExpired
			}
		}
		return errMFACodeInvalid
	}
	return errMFAMethodNA
}

// upgrade rotates the session into a full, MFA-level one and answers.
func (p *portal) upgrade(w http.ResponseWriter, r *http.Request, id *session.Identity, tok, method, rd string, extra map[string]any) {
	ctx := r.Context()
	if err := p.s.deps.Sessions.Revoke(ctx, tok); err != nil {
		p.s.storeFailure(w, r, "mfa rotate", err)
		return
	}
	authMethod := id.Session.AuthMethod
	if authMethod == "" {
		authMethod = "password"
	}
	nid, err := p.s.deps.Sessions.CreateWith(ctx, &id.User, session.Options{
		IP: p.s.cfg.ClientIP(r), UserAgent: r.UserAgent(), AuthMethod: authMethod, MFAMethod: method,
	})
	if err != nil {
		p.s.storeFailure(w, r, "mfa create session", err)
		return
	}
	p.s.setSessionCookie(w, nid)
	if !id.Session.Full() {
		p.s.log.Info("login succeeded", zapUser(id.User.ID), zapIP(p.s.cfg.ClientIP(r)), zap.String("mfa", method))
		p.s.audit(r, audit.Event{Type: audit.LoginSucceeded, UserID: id.User.ID, Email: id.User.Email, Detail: loginDetail(nid.Session)})
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

// trustThisDevice stores a trust token and sets its cookie; the token is
// also returned for non-browser clients (they send it in TrustHeader).
func (p *portal) trustThisDevice(w http.ResponseWriter, r *http.Request, u *store.User) string {
	now := p.s.cfg.Now()
	tok := keys.NewToken()
	d := &store.TrustedDevice{ID: keys.HashToken(tok), UserID: u.ID, UserAgent: limitRunes(r.UserAgent(), 512),
		IP: p.s.cfg.ClientIP(r), CreatedAt: now, ExpiresAt: now.Add(p.s.cfg.MFA.TrustedDevice)}
	if err := p.s.deps.MFA.CreateTrustedDevice(r.Context(), d); err != nil {
		p.s.log.Error("trusted device not saved", zapUser(u.ID), zapErr(err))
		return ""
	}
	http.SetCookie(w, &http.Cookie{
		Name: p.s.cfg.MFA.TrustCookie, Value: tok, Path: "/", Domain: p.s.cfg.Cookie.Domain,
		Expires: d.ExpiresAt, MaxAge: int(p.s.cfg.MFA.TrustedDevice.Seconds()),
		HttpOnly: true, Secure: !p.s.cfg.Cookie.Insecure, SameSite: http.SameSiteLaxMode,
	})
	p.s.audit(r, audit.Event{Type: audit.TrustedDeviceAdded, UserID: u.ID, Email: u.Email, Detail: map[string]string{"device": publicSessionID(d.ID)}})
	return tok
}

// ---- email / SMS codes ----

type sendInput struct {
	Method string `json:"method"`
	RD     string `json:"rd"`
}

func (p *portal) sendCode(w http.ResponseWriter, r *http.Request) {
	id, _, ok := p.challengeSession(w, r)
	if !ok {
		return
	}
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
	if (in.Method != MethodEmail && in.Method != MethodSMS) || !slices.Contains(st.methods, in.Method) || id.Session.Pending == store.PendingEnrol {
		p.s.writeError(w, r, errMFAMethodNA)
		return
	}
	now := p.s.cfg.Now()
	if p.mfaLocked(w, r, u, now, func(e *APIError) { p.s.writeError(w, r, e) }) {
		return
	}
	if !p.mfaAllow(w, r, p.s.limits.mfaSend, "mfa_send", u, now, func(e *APIError) { p.s.writeError(w, r, e) }) {
		return
	}
	// A new code replaces the ones sent before: only one is live at a
	// time, so each guess can match one code, not thirty.
	if tp, ok := p.s.deps.Tokens.(store.TokenPurger); ok {
		if err := tp.DeleteUserTokens(ctx, u.ID, mfaCodePurpose); err != nil {
			p.s.storeFailure(w, r, "mfa send", err)
			return
		}
	}
	code := sixDigits()
	h := p.s.keys.MAC("mfa-code", id.Session.ID, in.Method, code)
	if err := p.s.deps.Tokens.CreateToken(ctx, &store.OneTimeToken{Hash: h, Purpose: mfaCodePurpose, UserID: u.ID, ExpiresAt: now.Add(mfaCodeTTL)}); err != nil {
		p.s.storeFailure(w, r, "mfa send", err)
		return
	}
	to, masked := u.Email, maskEmail(u.Email)
	if in.Method == MethodSMS {
		to, masked = u.Phone, maskPhone(u.Phone)
	}
	if err := p.s.notify(ctx, notify.Message{Kind: notify.KindMFACode, Channel: in.Method, To: to, UserID: u.ID,
		Data: map[string]string{notify.DataCode: code, notify.DataName: u.Name, notify.DataExpires: "10 minutes"}}); err != nil {
		p.s.writeError(w, r, errInternal)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"sent": true, "method": in.Method, "to": masked, "expires_in": int(mfaCodeTTL.Seconds())})
		return
	}
	p.renderChallenge(w, r, http.StatusOK, id, st, masked, rd, nil)
}

// sixDigits is a uniform random 6-digit code.
func sixDigits() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return fmt.Sprintf("%06d", n.Int64())
}

func maskEmail(e string) string {
	at := strings.LastIndexByte(e, '@')
	if at < 1 {
		return "your email"
	}
	return e[:1] + "***" + e[at:]
}

func maskPhone(p string) string {
	if len(p) < 4 {
		return "your phone"
	}
	return "***" + p[len(p)-2:]
}

// ---- enrolment and settings ----

type deviceView struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
}

type trustedView struct {
	ID        string `json:"id"`
	UserAgent string `json:"user_agent"`
	IP        string `json:"ip"`
	CreatedAt string `json:"created_at"`
	ExpiresAt string `json:"expires_at"`
}

// settingsSession returns a session allowed to change MFA settings: a full
// session that passed MFA when the user has it (a password alone never
// adds or removes a factor), or the enrolment stage when enrol is true.
func (p *portal) settingsSession(w http.ResponseWriter, r *http.Request, enrol bool) (*session.Identity, string, *mfaState, bool) {
	id, tok, ok := p.challengeSession(w, r)
	if !ok {
		return nil, "", nil, false
	}
	switch id.Session.Pending {
	case "":
	case store.PendingEnrol:
		if !enrol {
			p.s.writeError(w, r, errMFAStepUp)
			return nil, "", nil, false
		}
	default:
		p.s.writeError(w, r, errMFAStepUp)
		return nil, "", nil, false
	}
	st, err := p.s.mfaState(r.Context(), &id.User)
	if err != nil {
		p.s.storeFailure(w, r, "mfa", err)
		return nil, "", nil, false
	}
	if st.enrolled && !StrongMFA(id.Session.MFAMethod) {
		p.s.writeError(w, r, errMFAEnrolNeedsStep)
		return nil, "", nil, false
	}
	return id, tok, st, true
}

func (p *portal) setupTOTPPage(w http.ResponseWriter, r *http.Request) {
	id, _, _, ok := p.settingsSession(w, r, true)
	if !ok {
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"setup": p.base + "/mfa/totp/setup", "fields": []string{"name"}})
		return
	}
	p.s.render(w, r, http.StatusOK, "mfa_setup.html", pageData{Title: "Set up an authenticator app",
		RD: p.returnTo(r, r.URL.Query().Get("rd")), MFA: &mfaPage{Enrol: !id.Session.Full(), Required: p.s.cfg.MFA.Required}})
}

type totpSetupInput struct {
	Name string `json:"name"`
	RD   string `json:"rd"`
}

func (p *portal) setupTOTP(w http.ResponseWriter, r *http.Request) {
	id, _, _, ok := p.settingsSession(w, r, true)
	if !ok {
		return
	}
	if !p.s.mfaAllowed(MethodTOTP) {
		p.s.writeError(w, r, errMFAMethodNA)
		return
	}
	var in totpSetupInput
	if e := decode(r, &in, map[string]*string{"name": &in.Name, "rd": &in.RD}); e != nil {
		p.s.writeError(w, r, e)
		return
	}
	ctx := r.Context()
	u := &id.User
	name := strings.TrimSpace(limitRunes(in.Name, 64))
	if name == "" {
		name = "Authenticator"
	}
	e, err := totp.New(p.s.cfg.MFA.Issuer, u.Email)
	if err != nil {
		p.s.log.Error("totp generation failed", zapErr(err))
		p.s.writeError(w, r, errInternal)
		return
	}
	// Only the newest unconfirmed setup counts; drop abandoned ones.
	all, err := p.s.deps.MFA.ListTOTP(ctx, u.ID)
	if err != nil {
		p.s.storeFailure(w, r, "totp setup", err)
		return
	}
	for _, d := range all {
		if !d.Confirmed() {
			if err := p.s.deps.MFA.DeleteTOTP(ctx, u.ID, d.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				p.s.storeFailure(w, r, "totp setup", err)
				return
			}
		}
	}
	dev := &store.TOTPDevice{ID: keys.NewID(), UserID: u.ID, Name: name,
		Secret: p.s.keys.Seal("totp", []byte(e.Secret), []byte(u.ID)), CreatedAt: p.s.cfg.Now()}
	if err := p.s.deps.MFA.CreateTOTP(ctx, dev); err != nil {
		p.s.storeFailure(w, r, "totp setup", err)
		return
	}
	qr := base64.StdEncoding.EncodeToString(e.QRPNG)
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"id": dev.ID, "name": name, "secret": e.Secret, "otpauth_url": e.URL, "qr_png": qr})
		return
	}
	p.s.render(w, r, http.StatusOK, "mfa_setup.html", pageData{Title: "Set up an authenticator app", RD: p.returnTo(r, in.RD),
		MFA: &mfaPage{Secret: e.Secret, QR: template.URL("data:image/png;base64," + qr), DeviceID: dev.ID, Enrol: !id.Session.Full()}})
}

type verifyInput struct {
	Code string `json:"code"`
	ID   string `json:"id"`
	RD   string `json:"rd"`
}

func (p *portal) verifyTOTP(w http.ResponseWriter, r *http.Request) {
	id, tok, st, ok := p.settingsSession(w, r, true)
	if !ok {
		return
	}
	var in verifyInput
	if e := decode(r, &in, map[string]*string{"code": &in.Code, "id": &in.ID, "rd": &in.RD}); e != nil {
		p.s.writeError(w, r, e)
		return
	}
	ctx := r.Context()
	u := &id.User
	now := p.s.cfg.Now()
	if !p.mfaAllow(w, r, p.s.limits.mfaUser, "mfa_user", u, now, func(e *APIError) { p.s.writeError(w, r, e) }) {
		return
	}
	all, err := p.s.deps.MFA.ListTOTP(ctx, u.ID)
	if err != nil {
		p.s.storeFailure(w, r, "totp verify", err)
		return
	}
	var dev *store.TOTPDevice
	for _, d := range all {
		if !d.Confirmed() && (in.ID == "" || in.ID == d.ID) {
			dev = d
		}
	}
	if dev == nil {
		p.s.writeError(w, r, errMFANotEnrolled)
		return
	}
	secret, err := p.s.keys.Open("totp", dev.Secret, []byte(u.ID))
	if err != nil {
		p.s.writeError(w, r, errMFANotEnrolled)
		return
	}
	step, match := totp.Match(string(secret), in.Code, now, dev.LastStep)
	if !match {
		p.s.obs.Error(CodeMFACodeInvalid)
		if wantsHTML(r) {
			p.s.render(w, r, http.StatusUnauthorized, "mfa_setup.html", pageData{Title: "Set up an authenticator app", RD: p.returnTo(r, in.RD), Error: errMFACodeInvalid,
				MFA: &mfaPage{Secret: string(secret), DeviceID: dev.ID, Enrol: !id.Session.Full()}})
			return
		}
		writeJSON(w, http.StatusUnauthorized, errMFACodeInvalid)
		return
	}
	if err := p.s.deps.MFA.ConfirmTOTP(ctx, u.ID, dev.ID, step, now); err != nil {
		if errors.Is(err, store.ErrConflict) {
			p.s.writeError(w, r, errMFACodeInvalid)
			return
		}
		p.s.storeFailure(w, r, "totp verify", err)
		return
	}
	codes := []string{}
	if !st.enrolled {
		// First authenticator: MFA is now on, with a fresh recovery set.
		if codes, err = p.newRecoveryCodes(ctx, u.ID); err != nil {
			p.s.storeFailure(w, r, "recovery codes", err)
			return
		}
		p.s.audit(r, audit.Event{Type: audit.MFAEnabled, UserID: u.ID, Email: u.Email, Detail: map[string]string{"method": MethodTOTP}})
	}
	p.s.audit(r, audit.Event{Type: audit.MFAVerified, UserID: u.ID, Email: u.Email, Detail: map[string]string{"method": MethodTOTP, "device": dev.Name}})
	rd := p.returnTo(r, in.RD)
	if wantsHTML(r) {
		// Rotate first (the proof of possession upgrades the session),
		// then show the codes once.
		if nid := p.rotateTo(w, r, id, tok, MethodTOTP); nid == nil {
			return
		}
		p.s.render(w, r, http.StatusOK, "mfa_codes.html", pageData{Title: "Save your recovery codes", RD: rd, MFA: &mfaPage{RecoveryCodes: codes}})
		return
	}
	nid := p.rotateTo(w, r, id, tok, MethodTOTP)
	if nid == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes, "device": deviceView{ID: dev.ID, Name: dev.Name, CreatedAt: dev.CreatedAt.UTC().Format(time.RFC3339)}, "mfa": MethodTOTP})
}

// rotateTo replaces the session with an MFA-level one (no fixation across
// a privilege change); nil after answering a store failure.
func (p *portal) rotateTo(w http.ResponseWriter, r *http.Request, id *session.Identity, tok, method string) *session.Identity {
	ctx := r.Context()
	if err := p.s.deps.Sessions.Revoke(ctx, tok); err != nil {
		p.s.storeFailure(w, r, "mfa rotate", err)
		return nil
	}
	authMethod := orDefault(id.Session.AuthMethod, "password")
	nid, err := p.s.deps.Sessions.CreateWith(ctx, &id.User, session.Options{IP: p.s.cfg.ClientIP(r), UserAgent: r.UserAgent(), AuthMethod: authMethod, MFAMethod: method})
	if err != nil {
		p.s.storeFailure(w, r, "mfa create session", err)
		return nil
	}
	p.s.setSessionCookie(w, nid)
	if !id.Session.Full() {
		p.s.audit(r, audit.Event{Type: audit.LoginSucceeded, UserID: id.User.ID, Email: id.User.Email, Detail: loginDetail(nid.Session)})
	}
	return nid
}

// recoveryHash is the stored form of a recovery code: SHA-256 of the user
// id and the normalised code. At 79 bits a code needs no key or stretching
// against a dump, and not depending on the master secret keeps the codes
// valid through a secret rotation, when they matter most.
func recoveryHash(userID, norm string) string { return keys.HashToken(userID + ":" + norm) }

func (p *portal) newRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	codes := totp.NewRecoveryCodes()
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = recoveryHash(userID, totp.NormalizeRecovery(c))
	}
	return codes, p.s.deps.MFA.ReplaceRecoveryCodes(ctx, userID, hashes)
}

func (p *portal) mfaSettings(w http.ResponseWriter, r *http.Request) {
	id := p.requireSessionPage(w, r)
	if id == nil {
		return
	}
	ctx := r.Context()
	u := &id.User
	st, err := p.s.mfaState(ctx, u)
	if err != nil {
		p.s.storeFailure(w, r, "mfa settings", err)
		return
	}
	left, err := p.s.deps.MFA.CountRecoveryCodes(ctx, u.ID)
	if err != nil {
		p.s.storeFailure(w, r, "mfa settings", err)
		return
	}
	trusted, err := p.trustedViews(ctx, u.ID)
	if err != nil {
		p.s.storeFailure(w, r, "mfa settings", err)
		return
	}
	devs := make([]deviceView, 0, len(st.devices))
	for _, d := range st.devices {
		devs = append(devs, deviceView{ID: d.ID, Name: d.Name, CreatedAt: d.CreatedAt.UTC().Format(time.RFC3339)})
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"enabled": st.enrolled, "required": p.s.cfg.MFA.Required,
			"totp": devs, "recovery_codes_left": left, "trusted_devices": trusted, "methods": st.methods,
			"session_mfa": id.Session.MFAMethod})
		return
	}
	p.s.render(w, r, http.StatusOK, "mfa.html", pageData{Title: "Two-step verification", User: u,
		MFA: &mfaPage{Devices: devs, RecoveryLeft: left, Trusted: trusted, Required: p.s.cfg.MFA.Required, StepUp: st.enrolled && !StrongMFA(id.Session.MFAMethod)}})
}

// requireSessionPage: a full session, or a redirect to login (pages) / 401.
func (p *portal) requireSessionPage(w http.ResponseWriter, r *http.Request) *session.Identity {
	id, saw, err := p.s.identify(r)
	if err != nil {
		p.s.storeFailure(w, r, "mfa", err)
		return nil
	}
	if id == nil {
		if wantsHTML(r) {
			http.Redirect(w, r, loginURL(p.base, r.URL.RequestURI()), http.StatusSeeOther)
		} else {
			writeJSON(w, http.StatusUnauthorized, unauthenticated(saw))
		}
	}
	return id
}

func (p *portal) trustedViews(ctx context.Context, userID string) ([]trustedView, error) {
	list, err := p.s.deps.MFA.ListTrustedDevices(ctx, userID, p.s.cfg.Now())
	if err != nil {
		return nil, err
	}
	out := make([]trustedView, 0, len(list))
	for _, d := range list {
		out = append(out, trustedView{ID: publicSessionID(d.ID), UserAgent: d.UserAgent, IP: d.IP,
			CreatedAt: d.CreatedAt.UTC().Format(time.RFC3339), ExpiresAt: d.ExpiresAt.UTC().Format(time.RFC3339)})
	}
	return out, nil
}

func (p *portal) deleteTOTP(w http.ResponseWriter, r *http.Request) {
	id, _, st, ok := p.settingsSession(w, r, false)
	if !ok {
		return
	}
	ctx := r.Context()
	u := &id.User
	want := r.PathValue("id")
	found := false
	for _, d := range st.devices {
		found = found || d.ID == want
	}
	if !found {
		p.s.writeError(w, r, errNotFound)
		return
	}
	last := len(st.devices) == 1
	if last && p.s.cfg.MFA.Required {
		p.s.writeError(w, r, errMFALastFactor)
		return
	}
	if err := p.s.deps.MFA.DeleteTOTP(ctx, u.ID, want); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			p.s.writeError(w, r, errNotFound)
			return
		}
		p.s.storeFailure(w, r, "totp delete", err)
		return
	}
	if last {
		// MFA is off: recovery codes and remembered devices go with it.
		if err := p.s.deps.MFA.ResetMFA(ctx, u.ID); err != nil {
			p.s.storeFailure(w, r, "totp delete", err)
			return
		}
	}
	ev := audit.Event{Type: audit.MFADisabled, UserID: u.ID, Email: u.Email, Detail: map[string]string{"device": want}}
	if !last {
		ev.Reason = "device_removed" // MFA stays on with the other devices
	}
	p.s.audit(r, ev)
	p.settingsDone(w, r, map[string]any{"deleted": true, "mfa_enabled": !last})
}

func (p *portal) settingsDone(w http.ResponseWriter, r *http.Request, body map[string]any) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, body)
		return
	}
	http.Redirect(w, r, p.base+"/mfa", http.StatusSeeOther)
}

func (p *portal) recoveryCount(w http.ResponseWriter, r *http.Request) {
	id := p.requireSession(w, r, "recovery codes")
	if id == nil {
		return
	}
	n, err := p.s.deps.MFA.CountRecoveryCodes(r.Context(), id.User.ID)
	if err != nil {
		p.s.storeFailure(w, r, "recovery codes", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"remaining": n})
}

func (p *portal) regenerateRecovery(w http.ResponseWriter, r *http.Request) {
	id, _, st, ok := p.settingsSession(w, r, false)
	if !ok {
		return
	}
	if !st.enrolled {
		p.s.writeError(w, r, errMFANotEnrolled)
		return
	}
	codes, err := p.newRecoveryCodes(r.Context(), id.User.ID)
	if err != nil {
		p.s.storeFailure(w, r, "recovery codes", err)
		return
	}
	p.s.audit(r, audit.Event{Type: audit.RecoveryCodesNew, UserID: id.User.ID, Email: id.User.Email})
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
		return
	}
	p.s.render(w, r, http.StatusOK, "mfa_codes.html", pageData{Title: "Save your recovery codes", MFA: &mfaPage{RecoveryCodes: codes}})
}

func (p *portal) listTrusted(w http.ResponseWriter, r *http.Request) {
	id := p.requireSession(w, r, "trusted devices")
	if id == nil {
		return
	}
	list, err := p.trustedViews(r.Context(), id.User.ID)
	if err != nil {
		p.s.storeFailure(w, r, "trusted devices", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"trusted_devices": list})
}

func (p *portal) deleteTrusted(w http.ResponseWriter, r *http.Request) {
	// Forgetting a device only lowers trust: a full session is enough.
	id := p.requireSession(w, r, "trusted devices")
	if id == nil {
		return
	}
	ctx := r.Context()
	want := r.PathValue("id")
	list, err := p.s.deps.MFA.ListTrustedDevices(ctx, id.User.ID, p.s.cfg.Now())
	if err != nil {
		p.s.storeFailure(w, r, "trusted devices", err)
		return
	}
	for _, d := range list {
		if publicSessionID(d.ID) == want {
			if err := p.s.deps.MFA.DeleteTrustedDevice(ctx, id.User.ID, d.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				p.s.storeFailure(w, r, "trusted devices", err)
				return
			}
			p.s.audit(r, audit.Event{Type: audit.TrustedDeviceGone, UserID: id.User.ID, Email: id.User.Email, Detail: map[string]string{"device": want}})
			p.settingsDone(w, r, map[string]any{"deleted": true})
			return
		}
	}
	p.s.writeError(w, r, errNotFound)
}

// ResetMFA removes every factor, recovery code and trusted device of the
// user and ends their sessions (admin action, lost authenticator).
func (s *Service) ResetMFA(ctx context.Context, userID string) error {
	return ResetMFA(ctx, s.deps, userID)
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

// MFA limits applied per user and per challenge stage.
func mfaLimiters(l Limits, mk NewLimiter) (user, attempts, send ratelimit.Limiter) {
	// The stage's bucket holds mfaMaxAttempts and refills one per 12
	// minutes: longer than a stage lives, so pacing the guesses gains
	// nothing and the bucket works as a plain counter.
	return mk("mfa_user", l.MFA), mk("mfa_attempts", ratelimit.Rate{N: mfaMaxAttempts, Per: time.Duration(mfaMaxAttempts) * 12 * time.Minute}), mk("mfa_send", l.MFASend)
}

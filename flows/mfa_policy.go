package flows

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddyauth/gateway/internal/session"
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

// mfaAllowed reports whether method m is configured (`mfa { methods }`).
func (s *Service) mfaAllowed(m string) bool { return s.factors.get(m) != nil }

// hasChannel reports whether messages on channel can be delivered.
func (s *Service) hasChannel(channel string) bool {
	return s.deps.Outbox.Has(channel)
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
	if st.methods, err = s.factors.usable(ctx, u, st); err != nil {
		return nil, err
	}
	return st, nil
}

// needsEnrolment: MFA is required, the user has no authenticator yet and
// authenticator apps are allowed, so the first login must set one up.
func (s *Service) needsEnrolment(st *mfaState) bool {
	return s.cfg.MFA.Required && !st.enrolled && s.mfaAllowed(MethodTOTP)
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
		if p.s.trustedDevice(r, u) {
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
	bearer := bearerMode(r)
	id := p.rotate(w, r, rotation{
		Op: "login", Revoke: revokeBrowser, User: u, Cookie: !bearer,
		Session: session.Options{AuthMethod: f.Method, Pending: stage, Lifetime: challengeTTL},
	})
	if id == nil {
		return false
	}
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
		if bearer {
			answerStageToken(w, id, body)
			return true
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

package flows

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

// Self-registration (issue 12 item 1): `registration on`, and the runtime
// switch `registration`. A new account is StatusPending until its email is
// verified (verify_email.go): it signs in, but no protected site admits it.
// The answer is the same 202 after the same floor whether or not the
// address is taken; the owner of a taken one gets an account_exists notice.

// MethodRegistration is the runtime switch of self-registration (and of
// OAuth sign-up).
const MethodRegistration = "registration"

// emailVerificationKind is the grant an email_verification message carries:
// a link and a code, valid a day (the user may read it tomorrow), five
// codes. The grant's Data is the address it verifies.
var emailVerificationKind = grantKind{Purpose: "email_verification", TTL: 24 * time.Hour, Code: true, Tries: 5}

func (p *portal) registerRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+p.base+"/register", p.registerPage)
	mux.HandleFunc("POST "+p.base+"/register", p.register)
	mux.HandleFunc("GET "+p.base+"/verify-email", p.verifyEmailPage)
	mux.HandleFunc("POST "+p.base+"/verify-email", p.verifyEmail)
	mux.HandleFunc("POST "+p.base+"/verify-email/resend", p.resendVerification)
	mux.HandleFunc("POST "+p.base+"/admin/users/{id}/approve", p.admin(p.adminApprove))
}

// registrationOn: configured and switched on. An unreadable switch counts
// as off (registrationGate answers 503 for it).
func (s *Service) registrationOn(ctx context.Context) bool {
	return s.cfg.Registration.On && s.methodEnabled(ctx, MethodRegistration)
}

func (s *Service) registrationGate(ctx context.Context) *APIError {
	if !s.cfg.Registration.On {
		return errRegistrationDisabled
	}
	return s.methodGate(ctx, MethodRegistration, errRegistrationDisabled)
}

type registerInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
	Phone    string `json:"phone"`
}

func (p *portal) registerPage(w http.ResponseWriter, r *http.Request) {
	if e := p.s.registrationGate(r.Context()); e != nil {
		p.s.writeError(w, r, e)
		return
	}
	if wantsJSON(r) {
		fields := []string{"email", "password", "name"}
		if p.s.hasChannel(notify.SMS) {
			fields = append(fields, "phone")
		}
		writeJSON(w, http.StatusOK, map[string]any{"register": p.base + "/register", "fields": fields})
		return
	}
	p.s.render(w, r, http.StatusOK, &registerView{layout: layout{Title: "Create an account"}, Phone: p.s.hasChannel(notify.SMS)})
}

// register: POST /auth/register.
func (p *portal) register(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var in registerInput
	fail := func(e *APIError) {
		p.s.fail(w, r, e, func() view {
			return &registerView{layout: layout{Title: "Create an account"}, Email: in.Email, Name: in.Name, Phone: p.s.hasChannel(notify.SMS)}
		})
	}
	if e := decode(r, &in, map[string]*string{"email": &in.Email, "password": &in.Password, "name": &in.Name, "phone": &in.Phone}); e != nil {
		fail(e)
		return
	}
	ctx := r.Context()
	if e := p.s.registrationGate(ctx); e != nil {
		fail(e)
		return
	}
	acc := p.s.Accounts()
	na := NewAccount{Email: in.Email, Name: in.Name, Phone: in.Phone, Password: in.Password}
	if in.Phone != "" && !p.s.hasChannel(notify.SMS) {
		fail(invalidInput("phone: this site does not take phone numbers."))
		return
	}
	if err := CheckProfile(&na); err != nil {
		fail(invalidInput(profileMessage(err)))
		return
	}
	flagged, e := p.s.cfg.Registration.AdmitEmail(na.Email)
	if e != nil {
		p.s.audit(r, audit.Event{Type: audit.RegistrationRefused, Email: auditIdentifier(na.Email), Reason: "email_domain"})
		fail(e)
		return
	}
	if err := acc.CheckPasswordPolicy(na.Password, na.Email, na.Name); err != nil {
		fail(passwordRefusal(err))
		return
	}
	lim := p.s.limits.recovery
	if !p.recoveryAllowed(w, r, nil, na.Email, "register", lim.sendIP, lim.sendID) {
		return
	}
	// The breach lookup only within the send budget, so an anonymous
	// caller cannot make the gateway ask the range server beyond it; for
	// a taken address as for a free one, so the answer tells neither.
	if err := acc.CheckPassword(ctx, na.Password, na.Email, na.Name); err != nil {
		fail(passwordRefusal(err))
		return
	}
	err := p.registerAccount(r, acc, na, flagged)
	p.s.pad(r, start)
	if err != nil {
		p.s.storeFailure(w, r, "register", err)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusAccepted, map[string]any{"verification_sent": true})
		return
	}
	p.s.render(w, r, http.StatusAccepted, &verifyEmailView{layout: layout{Title: "Check your mail"}, Email: na.Email, Sent: true})
}

// registerAccount makes the pending account and queues its verification,
// or, when the address is taken, queues the account_exists notice to its
// owner. Either way the caller answers alike.
func (p *portal) registerAccount(r *http.Request, acc *Accounts, na NewAccount, flagged bool) error {
	ctx := r.Context()
	existing, err := p.s.deps.Users.UserByEmail(ctx, na.Email)
	switch {
	case err == nil:
		// The same work as a new account (its password is hashed), so
		// the time does not tell a taken address either.
		if _, herr := acc.Hasher.Hash(ctx, na.Password); herr != nil {
			return herr
		}
		p.s.audit(r, audit.Event{Type: audit.RegistrationRefused, UserID: existing.ID, Email: existing.Email, Reason: "account_exists"})
		return p.s.notify(ctx, notify.Message{
			Kind: notify.KindAccountExists, Channel: notify.Email, To: existing.Email, UserID: existing.ID,
			Data: map[string]string{notify.DataName: existing.Name, notify.DataLink: p.portalURL(r, "/login")},
		})
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	// register judged na already, breach lookup included (once).
	u, err := acc.draft(ctx, na)
	if err != nil {
		return err
	}
	u.Status = store.StatusPending
	if err := acc.Create(ctx, p.s.actor(r, ActorSelf), u); errors.Is(err, store.ErrConflict) {
		// Registered by another request meanwhile (or the phone is
		// taken): answered alike, nothing made.
		p.s.audit(r, audit.Event{Type: audit.RegistrationRefused, Email: auditIdentifier(na.Email), Reason: "conflict"})
		return nil
	} else if err != nil {
		return err
	}
	if flagged {
		p.s.audit(r, audit.Event{Type: audit.DisposableEmail, UserID: u.ID, Email: u.Email})
	}
	return p.sendVerification(r, u)
}

// sendVerification issues u's email_verification grant for its current
// address and queues the message.
func (p *portal) sendVerification(r *http.Request, u *store.User) error {
	ctx := r.Context()
	g, err := p.s.issueGrant(ctx, emailVerificationKind, u, u.Email)
	if err != nil {
		return err
	}
	return p.s.notify(ctx, notify.Message{Kind: notify.KindVerifyEmail, Channel: notify.Email, To: u.Email, UserID: u.ID, Data: map[string]string{
		notify.DataCode: g.Code, notify.DataName: u.Name, notify.DataExpires: humanDuration(emailVerificationKind.TTL),
		notify.DataLink: p.portalURL(r, "/verify-email?token="+url.QueryEscape(g.Token)),
	}})
}

// profileMessage words a CheckProfile refusal.
func profileMessage(err error) string {
	switch {
	case errors.Is(err, ErrInvalidEmail):
		return "email: enter a valid email address."
	case errors.Is(err, ErrInvalidPhone):
		return "phone: enter the number in international form, such as +14155550123."
	case errors.Is(err, ErrInvalidName):
		return "name: at most 200 bytes, without control characters."
	}
	return "Check the form and try again."
}

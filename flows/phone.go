package flows

import (
	"errors"
	"net/http"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

// Adding or changing a phone (issue 12 item 3). The new number is held in
// the grant until its SMS code comes back, so the account keeps its
// current (verified) phone and its SMS factor meanwhile; only a confirmed
// number becomes the account's, verified, and so usable for sign-in and
// SMS codes (store.User.VerifiedPhone).

// phoneVerificationKind: a code only (no link: the SMS carries the code),
// ten minutes, five tries. Data is the number it verifies.
var phoneVerificationKind = grantKind{Purpose: "phone_verification", TTL: 10 * time.Minute, Code: true, Tries: 5}

// Phone codes and audit events.
const (
	CodePhoneTaken = "PHONE_TAKEN"
	eventPhoneSent = "phone.verification_sent"
	eventPhoneSet  = "phone.verified"
)

var (
	errNoSMS      = apiErr(http.StatusNotFound, CodeNotFound, "This site sends no SMS, so phones cannot be verified.")
	errPhoneTaken = apiErr(http.StatusConflict, CodePhoneTaken, "Another account already uses this phone number.")
)

func (p *portal) phoneRoutes(mux *http.ServeMux) {
	// Changing where SMS codes go is a settings change: an enrolled user's
	// session must have passed a real second factor.
	mux.HandleFunc("POST "+p.base+"/phone", p.withCaller(callerSettings, "phone", p.addPhone))
	mux.HandleFunc("POST "+p.base+"/verify-phone", p.withCaller(callerSettings, "phone", p.verifyPhone))
}

// addPhone: POST /auth/phone with phone (E.164): an SMS code to it.
func (p *portal) addPhone(w http.ResponseWriter, r *http.Request, c *caller) {
	if !p.s.hasChannel(notify.SMS) {
		p.s.writeError(w, r, errNoSMS)
		return
	}
	var in struct {
		Phone string `json:"phone"`
	}
	if e := decode(r, &in, map[string]*string{"phone": &in.Phone}); e != nil {
		p.s.writeError(w, r, e)
		return
	}
	phone := NormalizePhone(in.Phone)
	if !ValidPhone(phone) {
		p.s.writeError(w, r, invalidInput("phone: enter the number in international form, such as +14155550123."))
		return
	}
	u := &c.id.User
	if phone == u.VerifiedPhone() {
		writeJSON(w, http.StatusOK, map[string]any{"phone": phone, "phone_verified": true})
		return
	}
	lim := p.s.limits.recovery
	if !p.recoveryAllowed(w, r, nil, u.ID, "phone_send", lim.sendIP, lim.sendID) {
		return
	}
	ctx := r.Context()
	g, err := p.s.issueGrant(ctx, phoneVerificationKind, u, phone)
	if err != nil {
		p.s.storeFailure(w, r, "phone", err)
		return
	}
	if err := p.s.notify(ctx, notify.Message{Kind: notify.KindVerifyPhone, Channel: notify.SMS, To: phone, UserID: u.ID, Data: map[string]string{
		notify.DataCode: g.Code, notify.DataName: u.Name, notify.DataExpires: humanDuration(phoneVerificationKind.TTL),
	}}); err != nil {
		p.s.storeFailure(w, r, "phone", err)
		return
	}
	p.s.audit(r, audit.Event{Type: eventPhoneSent, UserID: u.ID, Email: u.Email, Detail: map[string]string{"phone": maskPhone(phone)}})
	writeJSON(w, http.StatusAccepted, map[string]any{"verification_sent": true, "phone": phone})
}

// verifyPhone: POST /auth/verify-phone with code: the number the code
// was sent to becomes the account's, verified.
func (p *portal) verifyPhone(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Code string `json:"code"`
	}
	if e := decode(r, &in, map[string]*string{"code": &in.Code}); e != nil {
		p.s.writeError(w, r, e)
		return
	}
	if !sixDigitCode(in.Code) {
		p.s.writeError(w, r, errVerificationInvalid)
		return
	}
	u := &c.id.User
	lim := p.s.limits.recovery
	if !p.recoveryAllowed(w, r, nil, u.ID, "phone_check", lim.checkIP, lim.checkID) {
		return
	}
	ctx := r.Context()
	g, err := p.s.redeemCode(ctx, phoneVerificationKind, u.ID, in.Code)
	switch {
	case errors.Is(err, errGrantInvalid):
		p.s.writeError(w, r, errVerificationInvalid)
		return
	case err != nil:
		p.s.storeFailure(w, r, "verify phone", err)
		return
	}
	fresh, err := p.s.deps.Users.UserByID(ctx, u.ID)
	if err != nil {
		p.s.storeFailure(w, r, "verify phone", err)
		return
	}
	now := p.s.cfg.Now()
	old := fresh.VerifiedPhone()
	fresh.Phone, fresh.PhoneVerifiedAt, fresh.UpdatedAt = g.Data, now, now
	switch err := p.s.deps.Users.UpdateUser(ctx, fresh); {
	case errors.Is(err, store.ErrConflict):
		p.s.writeError(w, r, errPhoneTaken)
		return
	case err != nil:
		p.s.storeFailure(w, r, "verify phone", err)
		return
	}
	// The session cache holds the user as it was; the next lookup reads
	// the new phone.
	p.s.deps.Sessions.Forget(c.id.Session.ID)
	detail := map[string]string{"phone": maskPhone(fresh.Phone)}
	if old != "" {
		detail["replaced"] = maskPhone(old)
	}
	p.s.audit(r, audit.Event{Type: eventPhoneSet, UserID: fresh.ID, Email: fresh.Email, Detail: detail})
	writeJSON(w, http.StatusOK, map[string]any{"phone": fresh.Phone, "phone_verified": true})
}

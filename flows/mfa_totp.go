package flows

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/totp"
	"github.com/caddyauth/gateway/store"
)

type deviceView struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
}

func (p *portal) setupTOTPPage(w http.ResponseWriter, r *http.Request, c *caller) {
	id := c.id
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"setup": p.base + "/mfa/totp/setup", "fields": []string{"name"}})
		return
	}
	p.s.render(w, r, http.StatusOK, &mfaSetupView{
		layout: layout{Title: "Set up an authenticator app"},
		RD:     p.returnTo(r, r.URL.Query().Get("rd")), Enrol: !id.Session.Full(),
	})
}

type totpSetupInput struct {
	Name string `json:"name"`
	RD   string `json:"rd"`
}

func (p *portal) setupTOTP(w http.ResponseWriter, r *http.Request, c *caller) {
	id := c.id
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
	dev := &store.TOTPDevice{
		ID: keys.NewID(), UserID: u.ID, Name: name,
		Secret: p.s.keys.Seal("totp", []byte(e.Secret), []byte(u.ID)), CreatedAt: p.s.cfg.Now(),
	}
	if err := p.s.deps.MFA.CreateTOTP(ctx, dev); err != nil {
		p.s.storeFailure(w, r, "totp setup", err)
		return
	}
	qr := base64.StdEncoding.EncodeToString(e.QRPNG)
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"id": dev.ID, "name": name, "secret": e.Secret, "otpauth_url": e.URL, "qr_png": qr})
		return
	}
	p.s.render(w, r, http.StatusOK, &mfaSetupView{
		layout: layout{Title: "Set up an authenticator app"}, RD: p.returnTo(r, in.RD),
		Secret: e.Secret, QR: template.URL("data:image/png;base64," + qr), DeviceID: dev.ID, Enrol: !id.Session.Full(),
	})
}

type verifyInput struct {
	Code string `json:"code"`
	ID   string `json:"id"`
	RD   string `json:"rd"`
}

func (p *portal) verifyTOTP(w http.ResponseWriter, r *http.Request, c *caller) {
	id, tok, st := c.id, c.token, c.mfa
	var in verifyInput
	if e := decode(r, &in, map[string]*string{"code": &in.Code, "id": &in.ID, "rd": &in.RD}); e != nil {
		p.s.writeError(w, r, e)
		return
	}
	ctx := r.Context()
	u := &id.User
	now := p.s.cfg.Now()
	if !p.mfaAllow(w, r, p.s.limits.mfaUser, BucketMFAUser, u, now, func(e *APIError) { p.s.writeError(w, r, e) }) {
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
		p.s.fail(w, r, errMFACodeInvalid, func() view {
			return &mfaSetupView{
				layout: layout{Title: "Set up an authenticator app"}, RD: p.returnTo(r, in.RD),
				Secret: string(secret), DeviceID: dev.ID, Enrol: !id.Session.Full(),
			}
		})
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
		if nid := p.rotate(w, r, mfaRotation(id, tok, MethodTOTP)); nid == nil {
			return
		}
		p.s.render(w, r, http.StatusOK, &mfaCodesView{layout: layout{Title: "Save your recovery codes"}, RD: rd, RecoveryCodes: codes})
		return
	}
	rot := mfaRotation(id, tok, MethodTOTP)
	rot.Cookie = !bearerMode(r)
	nid := p.rotate(w, r, rot)
	if nid == nil {
		return
	}
	body := map[string]any{"recovery_codes": codes, "device": deviceView{ID: dev.ID, Name: dev.Name, CreatedAt: dev.CreatedAt.UTC().Format(time.RFC3339)}, "mfa": MethodTOTP}
	if !rot.Cookie {
		p.answerTokens(w, r, nid, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (p *portal) deleteTOTP(w http.ResponseWriter, r *http.Request, c *caller) {
	id, st := c.id, c.mfa
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
		// Removed meanwhile: 404.
		p.s.storeError(w, r, "totp delete", err)
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

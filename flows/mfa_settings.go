package flows

import (
	"context"
	"net/http"
	"time"
)

func (p *portal) mfaSettings(w http.ResponseWriter, r *http.Request, c *caller) {
	id := c.id
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
		writeJSON(w, http.StatusOK, map[string]any{
			"enabled": st.enrolled, "required": p.s.cfg.MFA.Required,
			"totp": devs, "recovery_codes_left": left, "trusted_devices": trusted, "methods": st.methods,
			"session_mfa": id.Session.MFAMethod,
		})
		return
	}
	p.s.render(w, r, http.StatusOK, &mfaSettingsView{
		layout:  layout{Title: "Two-step verification"},
		Devices: devs, RecoveryLeft: left, Trusted: trusted, Required: p.s.cfg.MFA.Required, StepUp: st.enrolled && !StrongMFA(id.Session.MFAMethod),
	})
}

func (p *portal) settingsDone(w http.ResponseWriter, r *http.Request, body map[string]any) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, body)
		return
	}
	http.Redirect(w, r, p.base+"/mfa", http.StatusSeeOther)
}

// ResetMFA removes every factor, recovery code and trusted device of the
// user and ends their sessions (admin action, lost authenticator).
func (s *Service) ResetMFA(ctx context.Context, userID string) error {
	return ResetMFA(ctx, s.deps, userID)
}

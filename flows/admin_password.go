package flows

import (
	"net/http"

	"github.com/caddyauth/gateway/internal/session"
)

// adminMustChangePassword: PUT|POST /auth/admin/users/{id}/must-change-password
// with {"must_change_password": true|false} sets or clears the account's
// flag: while set, every protect sends the user to change-password
// (browsers) or answers 403 PASSWORD_CHANGE_REQUIRED.
func (p *portal) adminMustChangePassword(w http.ResponseWriter, r *http.Request, admin *session.Identity) {
	var in struct {
		Must *bool `json:"must_change_password"`
	}
	if e := decode(r, &in, nil); e != nil {
		p.adminError(w, r, e)
		return
	}
	if in.Must == nil {
		p.adminError(w, r, invalidInput(`Send {"must_change_password": true} or {"must_change_password": false}.`))
		return
	}
	u := p.target(w, r)
	if u == nil {
		return
	}
	if err := p.s.Accounts().RequirePasswordChange(r.Context(), p.s.actor(r, admin.User.ID), u, *in.Must); err != nil {
		p.adminStoreFailure(w, r, "admin must change password", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": adminViewOf(u)})
}

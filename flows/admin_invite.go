package flows

import (
	"errors"
	"net/http"

	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

// adminInvite: POST /auth/admin/invitations {"email", "name", "groups"}
// creates an invited account (no password) and emails it a set-password
// link; inviting the same email again replaces the link.
func (p *portal) adminInvite(w http.ResponseWriter, r *http.Request, admin *session.Identity) {
	var in struct {
		Email  string   `json:"email"`
		Name   string   `json:"name"`
		Groups []string `json:"groups"`
	}
	if e := decode(r, &in, nil); e != nil {
		p.adminError(w, r, e)
		return
	}
	if !p.s.hasChannel(notify.Email) {
		p.adminError(w, r, invalidInput("Invitations are sent by email: configure an email sender (the `email` option)."))
		return
	}
	inv := Invitation{
		Grants: p.s.deps.Grants, Outbox: p.s.deps.Outbox, Portal: requestScheme(r) + "://" + r.Host + p.base,
		Inviter: orDefault(admin.User.Name, admin.User.Email),
	}
	u, again, err := p.s.Accounts().Invite(r.Context(), p.s.actor(r, admin.User.ID), NewAccount{Email: in.Email, Name: in.Name, Groups: in.Groups}, inv)
	switch {
	case errors.Is(err, ErrNotInvitable), errors.Is(err, store.ErrConflict):
		p.adminError(w, r, apiErr(http.StatusConflict, CodeConflict, "An account with this email exists and is not waiting for an invitation."))
		return
	case errors.Is(err, ErrInvalidEmail), errors.Is(err, ErrInvalidName), errors.Is(err, ErrInvalidPhone), errors.Is(err, ErrInvalidGroup):
		p.adminError(w, r, invalidInput(accountMessage(err)))
		return
	case err != nil:
		p.adminStoreFailure(w, r, "admin invite", err)
		return
	}
	status := http.StatusCreated
	if again {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"user": adminViewOf(u), "invited": true, "again": again})
}

package flows

import (
	"errors"
	"net/http"

	"github.com/caddyauth/gateway/internal/session"
)

// errNotAwaitingApproval answers an approval of an account that is not a
// verified registration waiting for one.
var errNotAwaitingApproval = apiErr(http.StatusConflict, CodeConflict, "This account is not waiting for approval (its email may not be verified yet).")

// adminApprove: POST /auth/admin/users/{id}/approve lets a registered,
// verified account in (`registration { approval }`).
func (p *portal) adminApprove(w http.ResponseWriter, r *http.Request, admin *session.Identity) {
	u := p.actionTarget(w, r)
	if u == nil {
		return
	}
	err := p.s.Accounts().Approve(r.Context(), p.s.actor(r, admin.User.ID), u)
	switch {
	case errors.Is(err, ErrNotAwaitingApproval), errors.Is(err, ErrEmailUnverified):
		p.adminError(w, r, errNotAwaitingApproval)
		return
	case err != nil:
		p.adminStoreFailure(w, r, "admin approve", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": adminViewOf(u)})
}

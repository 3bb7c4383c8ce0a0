package flows

import (
	"errors"
	"net/http"

	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

var errAccountExists = apiErr(http.StatusConflict, CodeConflict, "An account with this email or phone exists.")

// adminCreateUser: POST /auth/admin/users {"email", "name", "phone",
// "groups", "password"} creates one account through the account service
// (the rules and the user.created record of `caddy auth user add`).
// With a password it must pass the policy; without one the account is
// invited (a set-password link by email, Accounts.Invite) when an email
// sender is configured, and otherwise made without a password (it signs
// in through an identity provider, passwordless or a reset). It answers
// 201 {"user", "invited"}; an email or phone taken is 409 CONFLICT, a bad
// field 400 INVALID_INPUT. The email is not counted as verified: nothing
// proved it reaches the user (the invitation's link will).
func (p *portal) adminCreateUser(w http.ResponseWriter, r *http.Request, admin *session.Identity) {
	var in struct {
		Email    string   `json:"email"`
		Name     string   `json:"name"`
		Phone    string   `json:"phone"`
		Groups   []string `json:"groups"`
		Password *string  `json:"password"`
	}
	if e := decode(r, &in, nil); e != nil {
		p.adminError(w, r, e)
		return
	}
	ctx, acc := r.Context(), p.s.Accounts()
	na := NewAccount{Email: in.Email, Name: in.Name, Phone: in.Phone, Groups: in.Groups, NoPassword: in.Password == nil}
	if in.Password != nil {
		na.Password = *in.Password
	}
	if err := acc.Check(ctx, &na); err != nil {
		p.adminError(w, r, passwordRefusal(err))
		return
	}
	if taken, err := p.accountTaken(r, na); err != nil {
		p.adminStoreFailure(w, r, "admin create user", err)
		return
	} else if taken {
		p.adminError(w, r, errAccountExists)
		return
	}
	by := p.s.actor(r, admin.User.ID)
	if na.NoPassword && p.s.hasChannel(notify.Email) {
		inv := Invitation{
			Grants: p.s.deps.Grants, Outbox: p.s.deps.Outbox, Portal: requestScheme(r) + "://" + r.Host + p.base,
			Inviter: orDefault(admin.User.Name, admin.User.Email),
		}
		u, again, err := acc.Invite(ctx, by, na, inv)
		switch {
		case again, errors.Is(err, ErrNotInvitable), errors.Is(err, store.ErrConflict):
			// Created meanwhile by someone else.
			p.adminError(w, r, errAccountExists)
		case err != nil:
			p.adminStoreFailure(w, r, "admin create user", err)
		default:
			writeJSON(w, http.StatusCreated, map[string]any{"user": adminViewOf(u), "invited": true})
		}
		return
	}
	u, err := acc.draft(ctx, na) // Check passed: one breach lookup, not two
	if err != nil {
		p.adminStoreFailure(w, r, "admin create user", err)
		return
	}
	if err := acc.Create(ctx, by, u); errors.Is(err, store.ErrConflict) {
		p.adminError(w, r, errAccountExists)
		return
	} else if err != nil {
		p.adminStoreFailure(w, r, "admin create user", err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"user": adminViewOf(u), "invited": false})
}

// accountTaken reports whether na's email or phone has an account.
func (p *portal) accountTaken(r *http.Request, na NewAccount) (bool, error) {
	_, err := p.s.deps.Users.UserByEmail(r.Context(), na.Email)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return err == nil, err
	}
	if na.Phone == "" {
		return false, nil
	}
	_, err = p.s.deps.Users.UserByPhone(r.Context(), na.Phone)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return err == nil, err
	}
	return false, nil
}

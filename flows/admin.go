package flows

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/methods"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

// MethodAdmin is a MethodSwitch an admin can list and flip (the runtime
// switch of internal/methods). Without one, the methods endpoints answer
// 404.
type MethodAdmin interface {
	MethodSwitch
	List(ctx context.Context) ([]methods.State, error)
	Set(ctx context.Context, method string, enabled bool) error
	// Offers reports whether the configuration has method; Offered
	// names them all (for the refusal of an unknown one).
	Offers(method string) bool
	Offered() []string
}

var (
	errAdminNeedsMFA = apiErr(http.StatusForbidden, CodeMFARequired, "Sign in with a second factor to use the admin API.")
	errAdminJSONOnly = apiErr(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Send Content-Type: application/json.")
	errSelf          = apiErr(http.StatusConflict, CodeConflict, "You cannot do this to your own account.")
)

// adminRoutes registers the admin API (JSON only) under <base>/admin.
// Access: a full session of a user in the admin group that passed a second
// factor. State-changing calls must send Content-Type: application/json
// (which a cross-site form cannot) on top of the portal's CSRF check.
func (p *portal) adminRoutes(mux *http.ServeMux) {
	a := p.base + "/admin"
	mux.HandleFunc("GET "+a+"/users", p.admin(p.adminListUsers))
	mux.HandleFunc("POST "+a+"/users", p.admin(p.adminCreateUser))
	mux.HandleFunc("GET "+a+"/users/{id}", p.admin(p.adminGetUser))
	mux.HandleFunc("DELETE "+a+"/users/{id}", p.admin(p.adminDeleteUser))
	mux.HandleFunc("POST "+a+"/users/{id}/disable", p.admin(p.adminSetStatus(store.StatusDisabled)))
	mux.HandleFunc("POST "+a+"/users/{id}/enable", p.admin(p.adminSetStatus(store.StatusActive)))
	mux.HandleFunc("GET "+a+"/users/{id}/sessions", p.admin(p.adminListSessions))
	mux.HandleFunc("DELETE "+a+"/users/{id}/sessions/{sid}", p.admin(p.adminDeleteSession))
	mux.HandleFunc("POST "+a+"/users/{id}/logout-all", p.admin(p.adminLogoutAll))
	mux.HandleFunc("POST "+a+"/users/{id}/reset-mfa", p.admin(p.adminResetMFA))
	mux.HandleFunc("POST "+a+"/users/{id}/unlock", p.admin(p.adminUnlock))
	mux.HandleFunc("POST "+a+"/invitations", p.admin(p.adminInvite))
	mux.HandleFunc("PUT "+a+"/users/{id}/must-change-password", p.admin(p.adminMustChangePassword))
	mux.HandleFunc("POST "+a+"/users/{id}/must-change-password", p.admin(p.adminMustChangePassword))
	mux.HandleFunc("GET "+a+"/methods", p.admin(p.adminListMethods))
	mux.HandleFunc("PUT "+a+"/methods/{method}", p.admin(p.adminSetMethod))
	mux.HandleFunc("POST "+a+"/methods/{method}", p.admin(p.adminSetMethod))
}

type adminHandler func(w http.ResponseWriter, r *http.Request, admin *session.Identity)

// admin checks who is calling before h runs.
func (p *portal) admin(h adminHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, saw, err := p.s.identify(r)
		if err != nil {
			p.adminStoreFailure(w, r, "admin auth", err)
			return
		}
		if id == nil {
			p.adminError(w, r, unauthenticated(saw))
			return
		}
		if !slices.Contains(id.User.Groups, p.s.cfg.AdminGroup) {
			p.s.log.Warn("admin API refused: not an admin", zapUser(id.User.ID), zapIP(p.s.cfg.ClientIP(r)))
			p.adminError(w, r, errForbidden)
			return
		}
		if !StrongMFA(id.Session.MFAMethod) {
			// A remembered device is not a second factor typed now.
			p.adminError(w, r, errAdminNeedsMFA)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !isJSON(r) {
			p.adminError(w, r, errAdminJSONOnly)
			return
		}
		h(w, r, id)
	}
}

// adminError answers JSON whatever the Accept header says.
func (p *portal) adminError(w http.ResponseWriter, r *http.Request, e *APIError) {
	p.s.failJSON(w, r, e)
}

// adminStoreFailure is storeFailure in JSON whatever the Accept header says.
func (p *portal) adminStoreFailure(w http.ResponseWriter, r *http.Request, op string, err error) {
	p.s.answerStore(w, r, op, err, sentinelsFail, false)
}

// noBody accepts an empty body or an empty JSON object.
func noBody(r *http.Request) *APIError {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		return apiErr(http.StatusRequestEntityTooLarge, CodeRequestTooLarge, "Request body too large.")
	}
	if len(b) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	var empty struct{}
	return decode(r, &empty, nil)
}

// adminUserView is what an admin sees of an account (never the hash).
type adminUserView struct {
	ID          string   `json:"id"`
	Email       string   `json:"email"`
	Phone       string   `json:"phone,omitempty"`
	Name        string   `json:"name"`
	Groups      []string `json:"groups"`
	Status      string   `json:"status"`
	HasPassword bool     `json:"has_password"`
	// MustChange: the user must change the password at the next sign-in.
	MustChange bool   `json:"must_change_password"`
	CreatedAt  string `json:"created_at"`
	UpdatedAt  string `json:"updated_at"`
	// EmailVerifiedAt: when the address was proven (an invitation
	// redeemed); absent while it is not.
	EmailVerifiedAt string `json:"email_verified_at,omitempty"`
	// PhoneVerifiedAt: when the phone was proven; absent: unverified.
	PhoneVerifiedAt string `json:"phone_verified_at,omitempty"`
}

func adminViewOf(u *store.User) adminUserView {
	g := u.Groups
	if g == nil {
		g = []string{}
	}
	v := adminUserView{
		ID: u.ID, Email: u.Email, Phone: u.Phone, Name: u.Name, Groups: g, Status: u.Status,
		HasPassword: u.PasswordHash != "", MustChange: u.MustChangePassword,
		CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339), UpdatedAt: u.UpdatedAt.UTC().Format(time.RFC3339),
	}
	if !u.EmailVerifiedAt.IsZero() {
		v.EmailVerifiedAt = u.EmailVerifiedAt.UTC().Format(time.RFC3339)
	}
	if !u.PhoneVerifiedAt.IsZero() {
		v.PhoneVerifiedAt = u.PhoneVerifiedAt.UTC().Format(time.RFC3339)
	}
	return v
}

// actionTarget is target for a changing call on a user, which takes no
// body: the action is the path.
func (p *portal) actionTarget(w http.ResponseWriter, r *http.Request) *store.User {
	if e := noBody(r); e != nil {
		p.adminError(w, r, e)
		return nil
	}
	return p.target(w, r)
}

// target loads the user named in the path, or answers 404 / 503.
func (p *portal) target(w http.ResponseWriter, r *http.Request) *store.User {
	u, err := p.s.deps.Users.UserByID(r.Context(), r.PathValue("id"))
	if err != nil {
		// A missing user is 404.
		p.s.answerStore(w, r, "admin user", err, sentinelsAnswer, false)
		return nil
	}
	return u
}

func (p *portal) adminListUsers(w http.ResponseWriter, r *http.Request, _ *session.Identity) {
	users, err := p.s.deps.Users.ListUsers(r.Context())
	if err != nil {
		p.adminStoreFailure(w, r, "admin users", err)
		return
	}
	out := make([]adminUserView, 0, len(users))
	for _, u := range users {
		out = append(out, adminViewOf(u))
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

func (p *portal) adminGetUser(w http.ResponseWriter, r *http.Request, _ *session.Identity) {
	if u := p.target(w, r); u != nil {
		writeJSON(w, http.StatusOK, map[string]any{"user": adminViewOf(u)})
	}
}

// adminSetStatus disables (and signs out everywhere) or enables a user.
// An admin cannot disable themself: nobody would be left to undo it.
func (p *portal) adminSetStatus(status string) adminHandler {
	return func(w http.ResponseWriter, r *http.Request, admin *session.Identity) {
		u := p.actionTarget(w, r)
		if u == nil {
			return
		}
		n, err := p.s.Accounts().SetStatus(r.Context(), p.s.actor(r, admin.User.ID), u, status)
		if errors.Is(err, ErrSessionsNotRevoked) {
			// The account is disabled; its sessions die at their next
			// validation anyway (the manager checks the status).
			p.s.log.Warn("sessions of a disabled user not revoked", zapUser(u.ID), zapErr(err))
		} else if err != nil {
			p.adminAccountFailure(w, r, "admin set status", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"user": adminViewOf(u), "sessions_ended": n})
	}
}

// adminAccountFailure answers a refusal of the account service.
func (p *portal) adminAccountFailure(w http.ResponseWriter, r *http.Request, op string, err error) {
	if errors.Is(err, ErrSelf) {
		p.adminError(w, r, errSelf)
		return
	}
	p.adminStoreFailure(w, r, op, err)
}

func (p *portal) adminDeleteUser(w http.ResponseWriter, r *http.Request, admin *session.Identity) {
	u := p.target(w, r)
	if u == nil {
		return
	}
	n, err := p.s.Accounts().Delete(r.Context(), p.s.actor(r, admin.User.ID), u)
	if errors.Is(err, ErrLockoutNotCleared) {
		p.s.log.Warn("lockout of a deleted user not cleared", zapUser(u.ID), zapErr(err))
	} else if err != nil {
		p.adminAccountFailure(w, r, "admin delete user", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": true, "sessions_ended": n})
}

type adminSessionView struct {
	ID         string `json:"id"`
	CreatedAt  string `json:"created_at"`
	LastSeenAt string `json:"last_seen_at"`
	ExpiresAt  string `json:"expires_at"`
	IP         string `json:"ip"`
	UserAgent  string `json:"user_agent"`
	AuthMethod string `json:"auth_method"`
	MFAMethod  string `json:"mfa_method,omitempty"`
	Pending    string `json:"pending,omitempty"`
}

func (p *portal) adminListSessions(w http.ResponseWriter, r *http.Request, _ *session.Identity) {
	u := p.target(w, r)
	if u == nil {
		return
	}
	list, err := p.s.deps.Sessions.List(r.Context(), u.ID)
	if err != nil {
		p.adminStoreFailure(w, r, "admin sessions", err)
		return
	}
	out := make([]adminSessionView, 0, len(list))
	for _, s := range list {
		out = append(out, adminSessionView{
			ID:         publicSessionID(s.ID),
			CreatedAt:  s.CreatedAt.UTC().Format(time.RFC3339),
			LastSeenAt: s.LastSeenAt.UTC().Format(time.RFC3339),
			ExpiresAt:  s.ExpiresAt.UTC().Format(time.RFC3339),
			IP:         s.IP, UserAgent: s.UserAgent,
			AuthMethod: s.AuthMethod, MFAMethod: s.MFAMethod, Pending: s.Pending,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
}

func (p *portal) adminDeleteSession(w http.ResponseWriter, r *http.Request, admin *session.Identity) {
	u := p.target(w, r)
	if u == nil {
		return
	}
	want := r.PathValue("sid")
	storeID, err := p.s.revokePublicSession(r.Context(), u.ID, want)
	if err != nil {
		p.adminStoreFailure(w, r, "admin delete session", err)
		return
	}
	if storeID == "" {
		p.adminError(w, r, errNotFound)
		return
	}
	p.s.audit(r, audit.Event{
		Type: audit.SessionRevoked, Actor: admin.User.ID, UserID: u.ID, Email: u.Email,
		Detail: map[string]string{"session": want},
	})
	writeJSON(w, http.StatusOK, map[string]any{"deleted": true})
}

func (p *portal) adminLogoutAll(w http.ResponseWriter, r *http.Request, admin *session.Identity) {
	u := p.actionTarget(w, r)
	if u == nil {
		return
	}
	n, err := p.s.Accounts().LogoutAll(r.Context(), p.s.actor(r, admin.User.ID), u)
	if err != nil {
		p.adminStoreFailure(w, r, "admin logout-all", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions_ended": n})
}

func (p *portal) adminResetMFA(w http.ResponseWriter, r *http.Request, admin *session.Identity) {
	u := p.actionTarget(w, r)
	if u == nil {
		return
	}
	if err := p.s.Accounts().ResetMFA(r.Context(), p.s.actor(r, admin.User.ID), u); err != nil {
		p.adminStoreFailure(w, r, "admin reset mfa", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"reset": true})
}

func (p *portal) adminUnlock(w http.ResponseWriter, r *http.Request, admin *session.Identity) {
	u := p.actionTarget(w, r)
	if u == nil {
		return
	}
	n, err := p.s.Accounts().Unlock(r.Context(), p.s.actor(r, admin.User.ID), u.Email)
	if err != nil {
		p.adminStoreFailure(w, r, "admin unlock", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"unlocked": n})
}

func (p *portal) methodAdmin(w http.ResponseWriter, r *http.Request) MethodAdmin {
	ma := p.s.deps.MethodAdmin
	if ma == nil {
		p.adminError(w, r, apiErr(http.StatusNotFound, CodeNotFound, "The auth-method switch is not configured."))
		return nil
	}
	return ma
}

func (p *portal) adminListMethods(w http.ResponseWriter, r *http.Request, _ *session.Identity) {
	ma := p.methodAdmin(w, r)
	if ma == nil {
		return
	}
	list, err := ma.List(r.Context())
	if err != nil {
		p.adminStoreFailure(w, r, "admin methods", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"methods": list})
}

func (p *portal) adminSetMethod(w http.ResponseWriter, r *http.Request, admin *session.Identity) {
	ma := p.methodAdmin(w, r)
	if ma == nil {
		return
	}
	method := r.PathValue("method")
	if !ma.Offers(method) {
		// Not stored, not audited: a typo must not look like a switch
		// that worked while the real method stays on.
		p.adminError(w, r, errMethodUnknown(ma.Offered()))
		return
	}
	var in struct {
		Enabled *bool `json:"enabled"`
	}
	if e := decode(r, &in, nil); e != nil {
		p.adminError(w, r, e)
		return
	}
	if in.Enabled == nil {
		p.adminError(w, r, invalidInput(`Send {"enabled": true} or {"enabled": false}.`))
		return
	}
	if err := ma.Set(r.Context(), method, *in.Enabled); errors.Is(err, methods.ErrUnknown) {
		p.adminError(w, r, errMethodUnknown(ma.Offered()))
		return
	} else if err != nil {
		p.adminStoreFailure(w, r, "admin set method", err)
		return
	}
	typ := audit.MethodDisabled
	if *in.Enabled {
		typ = audit.MethodEnabled
	}
	p.s.log.Warn("auth method switched by an admin", zap.String("method", method), zap.Bool("enabled", *in.Enabled), zapUser(admin.User.ID))
	p.s.audit(r, audit.Event{Type: typ, Actor: admin.User.ID, Detail: map[string]string{"method": method}})
	writeJSON(w, http.StatusOK, methods.State{Method: method, Enabled: *in.Enabled})
}

package flows

import (
	"context"
	"net/http"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/store"
)

// logout ends this browser's session. It succeeds without a session too, so
// a stale tab can always sign out.
func (p *portal) logout(w http.ResponseWriter, r *http.Request) {
	var buf [maxSessionCookies]string
	for _, tok := range p.s.sessionCookies(r, &buf) {
		// An unknown token is not an error (a stale tab may always sign
		// out) and costs one lookup: nothing to delete or broadcast.
		id, err := p.s.deps.Sessions.RevokeLive(r.Context(), tok)
		if err != nil {
			p.s.storeFailure(w, r, "logout", err)
			return
		}
		if id != nil {
			p.s.audit(r, audit.Event{
				Type: audit.Logout, UserID: id.User.ID, Email: id.User.Email,
				Detail: map[string]string{"session": publicSessionID(id.Session.ID)},
			})
		}
	}
	if !p.logoutBearer(w, r) {
		return
	}
	p.s.clearSessionCookie(w)
	p.signedOut(w, r, 1)
}

// logoutAll ends every session of the signed-in user, on every instance
// (the store is shared; caches expire within session.MaxCacheTTL).
func (p *portal) logoutAll(w http.ResponseWriter, r *http.Request) {
	id, saw, err := p.s.identify(r)
	if err != nil {
		p.s.storeFailure(w, r, "logout-all", err)
		return
	}
	if id == nil {
		p.s.clearSessionCookie(w)
		p.s.writeError(w, r, unauthenticated(saw))
		return
	}
	n, err := p.s.Accounts().LogoutAll(r.Context(), p.s.actor(r, ActorSelf), &id.User)
	if err != nil {
		p.s.storeFailure(w, r, "logout-all", err)
		return
	}
	p.s.log.Info("logout-all", zapUser(id.User.ID))
	p.s.clearSessionCookie(w)
	p.signedOut(w, r, n)
}

func (p *portal) signedOut(w http.ResponseWriter, r *http.Request, n int) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"signed_out": true, "sessions_ended": n})
		return
	}
	http.Redirect(w, r, p.base+"/login", http.StatusSeeOther)
}

func unauthenticated(sawCookie bool) *APIError {
	if sawCookie {
		return errSessionExpired
	}
	return errUnauthenticated
}

type sessionView struct {
	ID         string `json:"id"`
	Current    bool   `json:"current"`
	CreatedAt  string `json:"created_at"`
	LastSeenAt string `json:"last_seen_at"`
	ExpiresAt  string `json:"expires_at"`
	IP         string `json:"ip"`
	UserAgent  string `json:"user_agent"`
}

// whoami: GET /auth/session.
func (p *portal) whoami(w http.ResponseWriter, r *http.Request, c *caller) {
	id := c.id
	writeJSON(w, http.StatusOK, map[string]any{
		"authenticated": true,
		"user":          viewOf(&id.User),
		"session": map[string]any{
			"created_at":      id.Session.CreatedAt.UTC().Format(time.RFC3339),
			"expires_at":      id.Session.ExpiresAt.UTC().Format(time.RFC3339),
			"idle_expires_at": id.Session.IdleExpiresAt.UTC().Format(time.RFC3339),
		},
	})
}

// listSessions: GET /auth/sessions, the user's own sessions.
func (p *portal) listSessions(w http.ResponseWriter, r *http.Request, c *caller) {
	id := c.id
	list, err := p.s.deps.Sessions.List(r.Context(), id.User.ID)
	if err != nil {
		p.s.storeFailure(w, r, "sessions", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": sessionViews(list, id.Session.ID)})
}

// sessionViews is a user's sessions as they see them (GET /auth/sessions,
// the account export): public ids, never the token or its hash.
func sessionViews(list []*store.Session, current string) []sessionView {
	out := make([]sessionView, 0, len(list))
	for _, s := range list {
		out = append(out, sessionView{
			ID:         publicSessionID(s.ID),
			Current:    s.ID == current,
			CreatedAt:  s.CreatedAt.UTC().Format(time.RFC3339),
			LastSeenAt: s.LastSeenAt.UTC().Format(time.RFC3339),
			ExpiresAt:  s.ExpiresAt.UTC().Format(time.RFC3339),
			IP:         s.IP,
			UserAgent:  s.UserAgent,
		})
	}
	return out
}

// deleteSession: DELETE /auth/sessions/{id}, one of the user's own.
func (p *portal) deleteSession(w http.ResponseWriter, r *http.Request, c *caller) {
	id := c.id
	want := r.PathValue("id")
	storeID, err := p.s.revokePublicSession(r.Context(), id.User.ID, want)
	if err != nil {
		p.s.storeFailure(w, r, "delete session", err)
		return
	}
	if storeID == "" {
		p.s.writeError(w, r, errNotFound)
		return
	}
	if storeID == id.Session.ID {
		p.s.clearSessionCookie(w)
	}
	p.s.audit(r, audit.Event{
		Type: audit.SessionRevoked, UserID: id.User.ID, Email: id.User.Email,
		Detail: map[string]string{"session": want},
	})
	writeJSON(w, http.StatusOK, map[string]any{"deleted": true})
}

// revokePublicSession ends the user's session shown as publicID (see
// publicSessionID) and returns its store id; "" when the user has no such
// live session.
func (s *Service) revokePublicSession(ctx context.Context, userID, publicID string) (string, error) {
	list, err := s.deps.Sessions.List(ctx, userID)
	if err != nil {
		return "", err
	}
	for _, sess := range list {
		if publicSessionID(sess.ID) == publicID {
			return sess.ID, s.deps.Sessions.RevokeID(ctx, sess.ID)
		}
	}
	return "", nil
}

// publicSessionID is the handle shown to users: the first 64 bits of the
// store id (itself a hash of the token), unique enough within one user's
// sessions and shorter to show.
func publicSessionID(storeID string) string {
	if len(storeID) > 16 {
		return storeID[:16]
	}
	return storeID
}

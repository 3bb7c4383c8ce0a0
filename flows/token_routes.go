package flows

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

// tokenRoutes registers bearer mode's endpoints: the refresh and the
// public keys that verify access tokens and assertions.
func (p *portal) tokenRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+p.base+"/refresh", p.refresh)
	mux.HandleFunc("GET "+p.base+"/.well-known/jwks.json", p.jwks)
}

type refreshInput struct {
	RefreshToken string `json:"refresh_token"`
}

// refresh: POST /auth/refresh {"refresh_token"}. A current token gets a
// new access token and the next refresh token; a spent one is a reuse
// (someone else holds a copy) and ends the whole session, so the thief's
// and the victim's newer tokens die together.
func (p *portal) refresh(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := p.s.cfg.Now()
	t := p.s.tokens
	if !p.refreshAllowed(w, r, t.refreshClient, ratelimit.AddressKey(p.s.cfg.ClientIP(r)), BucketRefreshClient) {
		return
	}
	var in refreshInput
	if e := decode(r, &in, map[string]*string{"refresh_token": &in.RefreshToken}); e != nil {
		p.s.writeError(w, r, e)
		return
	}
	sid, gen, ok := t.parseRefresh(in.RefreshToken)
	if !ok {
		p.s.writeError(w, r, errRefreshTokenInvalid)
		return
	}
	if !p.refreshAllowed(w, r, t.refreshSession, sid, BucketRefreshSession) {
		return
	}
	id, err := p.s.deps.Sessions.ValidateID(ctx, sid)
	if errors.Is(err, session.ErrNoSession) {
		p.s.writeError(w, r, errRefreshTokenInvalid)
		return
	}
	if err != nil {
		p.s.storeFailure(w, r, "refresh", err)
		return
	}
	if !id.Session.Full() {
		p.s.writeError(w, r, errRefreshTokenInvalid)
		return
	}
	switch err := p.s.deps.Sessions.AdvanceRefresh(ctx, sid, gen); {
	case errors.Is(err, store.ErrConflict):
		p.refreshReused(w, r, id)
		return
	case errors.Is(err, store.ErrNotFound):
		p.s.writeError(w, r, errRefreshTokenInvalid)
		return
	case err != nil:
		p.s.storeFailure(w, r, "refresh", err)
		return
	}
	at, ttl, err := t.issueAccess(id, now)
	if err != nil {
		p.s.log.Error("access token not signed", zapErr(err))
		p.s.writeError(w, r, errInternal)
		return
	}
	writeJSON(w, http.StatusOK, tokenBody{
		AccessToken: at, RefreshToken: t.issueRefresh(sid, gen+1),
		TokenType: "Bearer", ExpiresIn: int(ttl.Seconds()),
	})
}

// refreshReused ends the session of a refresh token presented twice.
func (p *portal) refreshReused(w http.ResponseWriter, r *http.Request, id *session.Identity) {
	if err := p.s.deps.Sessions.RevokeID(r.Context(), id.Session.ID); err != nil {
		p.s.storeFailure(w, r, "refresh reuse", err)
		return
	}
	p.s.log.Warn("refresh token reused: session ended", zapUser(id.User.ID))
	p.s.audit(r, audit.Event{
		Type: audit.SessionRevoked, UserID: id.User.ID, Email: id.User.Email,
		Reason: "refresh_token_reused", Detail: map[string]string{"session": publicSessionID(id.Session.ID)},
	})
	p.s.writeError(w, r, errRefreshTokenInvalid)
}

// refreshAllowed spends one refresh from lim's bucket for key, or answers
// 429 (or 503 when the shared limiter is down) and returns false.
func (p *portal) refreshAllowed(w http.ResponseWriter, r *http.Request, lim ratelimit.Limiter, key, kind string) bool {
	ok, wait, err := lim.Allow(r.Context(), key, p.s.cfg.Now())
	if err != nil {
		p.s.storeFailure(w, r, "rate limit", err)
		return false
	}
	if !ok {
		p.s.obs.Limited(kind)
		retryAfter(w, wait)
		p.s.writeError(w, r, errRefreshLimited)
		return false
	}
	return true
}

// jwks: GET /auth/.well-known/jwks.json, the public keys of access tokens
// and assertions, current and previous (RFC 7517). Upstreams cache it; a
// token with an unknown kid is their cue to fetch it again.
func (p *portal) jwks(w http.ResponseWriter, r *http.Request) {
	t := p.s.tokens
	ks := append(t.assertion.JWKs(), t.access.JWKs()...)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	_ = json.NewEncoder(w).Encode(map[string][]keys.JWK{"keys": ks})
}

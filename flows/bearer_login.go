package flows

import (
	"net/http"
	"strings"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/session"
)

// TokenTypeHeader asks a login (or an MFA finish) for bearer tokens
// instead of a cookie (contract: `X-Access-Token-Type: header`).
const TokenTypeHeader = "X-Access-Token-Type"

// bearerMode reports whether r wants its session as tokens: it asks with
// TokenTypeHeader, or it already calls with one of our bearer tokens (an
// MFA stage token, an access token stepping up).
func bearerMode(r *http.Request) bool {
	if strings.EqualFold(strings.TrimSpace(r.Header.Get(TokenTypeHeader)), "header") {
		return true
	}
	v, ok := bearerValue(r.Header)
	return ok && ours(v)
}

// tokenBody is the answer of a bearer login and of a refresh (contract).
type tokenBody struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// tokensFor signs the access token of id's session and the refresh token
// of generation gen.
func (s *Service) tokensFor(id *session.Identity, gen uint64) (tokenBody, error) {
	at, ttl, err := s.tokens.issueAccess(id, s.cfg.Now())
	if err != nil {
		return tokenBody{}, err
	}
	return tokenBody{
		AccessToken: at, RefreshToken: s.tokens.issueRefresh(id.Session.ID, gen),
		TokenType: "Bearer", ExpiresIn: int(ttl / time.Second),
	}, nil
}

// answerTokens answers a bearer sign-in with the new session's tokens and
// whatever else the flow adds (user, mfa, device_token). No cookie is set.
func (p *portal) answerTokens(w http.ResponseWriter, r *http.Request, id *session.Identity, extra map[string]any) bool {
	tb, err := p.s.tokensFor(id, id.Session.RefreshGen)
	if err != nil {
		// Signing with a derived in-memory key does not fail; if it ever
		// does, the session must not outlive the failed answer.
		p.s.log.Error("access token not signed", zapErr(err))
		_ = p.s.deps.Sessions.RevokeID(r.Context(), id.Session.ID)
		p.s.writeError(w, r, errInternal)
		return false
	}
	body := map[string]any{
		"access_token": tb.AccessToken, "refresh_token": tb.RefreshToken,
		"token_type": tb.TokenType, "expires_in": tb.ExpiresIn,
		"authenticated": true, "user": viewOf(&id.User),
		"session_expires_at": id.Session.ExpiresAt.UTC().Format(time.RFC3339),
	}
	for k, v := range extra {
		if v != nil && v != "" {
			body[k] = v
		}
	}
	writeJSON(w, http.StatusOK, body)
	return true
}

// answerStageToken answers a bearer sign-in that stopped at a challenge or
// enrolment stage: the stage's token, which only the MFA endpoints accept.
func answerStageToken(w http.ResponseWriter, id *session.Identity, body map[string]any) {
	body["mfa_token"] = mfaTokenPrefix + id.Token
	body["expires_in"] = int(time.Until(id.Session.ExpiresAt) / time.Second)
	writeJSON(w, http.StatusOK, body)
}

// logoutBearer ends the session of a bearer caller (POST /auth/logout
// with an access or stage token). It reports false when it answered a
// store failure.
func (p *portal) logoutBearer(w http.ResponseWriter, r *http.Request) bool {
	if _, ok := bearerValue(r.Header); !ok {
		return true
	}
	f, err := bearerCredential{p.s}.find(r.Context(), r.Header, true)
	if err == nil && f.ID != nil {
		err = p.s.deps.Sessions.RevokeID(r.Context(), f.ID.Session.ID)
	}
	if err != nil {
		p.s.storeFailure(w, r, "logout", err)
		return false
	}
	if f.ID != nil {
		p.s.audit(r, audit.Event{
			Type: audit.Logout, UserID: f.ID.User.ID, Email: f.ID.User.Email,
			Detail: map[string]string{"session": publicSessionID(f.ID.Session.ID), "credential": SourceBearer.String()},
		})
	}
	return true
}

package flows

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/session"
)

// mfaTokenPrefix marks the token of a challenge or enrolment stage handed
// out in bearer mode ({"mfa_required": true, "mfa_token": ...}). Only the
// stage endpoints (MFA challenge, send, enrolment) accept it.
const mfaTokenPrefix = "mfa."

// bearerCredential is `Authorization: Bearer <access token>` (bearer
// mode). It takes only what is ours: a JWT-shaped value (two dots) or an
// MFA stage token. Anything else (an API key, `<prefix>_<id>_<secret>`)
// it declines unseen, so the next strategy may take it.
type bearerCredential struct{ s *Service }

// bearerValue returns the credential of an Authorization: Bearer header;
// "" when there is none. Several Authorization lines are refused whole:
// a proxy and a client disagreeing about the caller is no credential.
func bearerValue(h http.Header) (string, bool) {
	lines := h["Authorization"]
	if len(lines) == 0 {
		return "", false
	}
	v := lines[0]
	if len(v) < 7 || !strings.EqualFold(v[:7], "bearer ") {
		return "", false
	}
	if len(lines) > 1 {
		return "", true
	}
	return strings.TrimSpace(v[7:]), true
}

// ours reports whether a bearer value is this strategy's to judge.
func ours(v string) bool {
	return strings.Count(v, ".") == 2 || strings.HasPrefix(v, mfaTokenPrefix)
}

func (c bearerCredential) presented(h http.Header) bool {
	v, ok := bearerValue(h)
	return ok && (v == "" || ours(v))
}

func (c bearerCredential) find(ctx context.Context, h http.Header, stages bool) (found, error) {
	v, ok := bearerValue(h)
	if !ok || v != "" && !ours(v) {
		return found{}, nil
	}
	refused := func(e *APIError) (found, error) {
		return found{Source: SourceBearer, Presented: true, Refused: e}, nil
	}
	if v == "" {
		return refused(errTokenInvalid)
	}
	if stageTok, isStage := strings.CutPrefix(v, mfaTokenPrefix); isStage {
		return c.findStage(ctx, stageTok, stages)
	}
	claims, err := c.s.tokens.parseAccess(v, c.s.cfg.Now)
	if errors.Is(err, keys.ErrTokenExpired) {
		return refused(errTokenExpired)
	}
	if err != nil {
		return refused(errTokenInvalid)
	}
	// The session decides, through the cookie's cache and revocation
	// path: a logout, logout-all, disable or admin revoke ends the token.
	id, err := c.s.deps.Sessions.ValidateID(ctx, claims.SID)
	if errors.Is(err, session.ErrNoSession) {
		return found{Source: SourceBearer, Presented: true}, nil
	}
	if err != nil {
		return found{Source: SourceBearer, Presented: true}, err
	}
	if id.User.ID != claims.Subject || !id.Session.Full() {
		return refused(errTokenInvalid)
	}
	return found{ID: id, Source: SourceBearer, Presented: true}, nil
}

// findStage is an MFA stage token: a challenge or enrolment session's own
// token, accepted only where stages are (the MFA endpoints) and only for
// a session still at a stage.
func (c bearerCredential) findStage(ctx context.Context, tok string, stages bool) (found, error) {
	if !stages {
		return found{Source: SourceBearer, Presented: true, Refused: errMFARequired}, nil
	}
	id, err := c.s.deps.Sessions.Validate(ctx, tok)
	if errors.Is(err, session.ErrNoSession) {
		return found{Source: SourceBearer, Presented: true}, nil
	}
	if err != nil {
		return found{Source: SourceBearer, Presented: true}, err
	}
	if id.Session.Full() {
		return found{Source: SourceBearer, Presented: true, Refused: errTokenInvalid}, nil
	}
	return found{ID: id, Token: tok, Source: SourceBearer, Presented: true}, nil
}

// dropBearer removes the access token a caller was admitted with before
// the request goes upstream, as the session cookie is: tokens go only to
// the components that need them (ASVS 10.1.1), and an app that never sees
// one cannot leak or replay it.
func (g *Guard) dropBearer(h http.Header, src CredentialSource) {
	switch src {
	case SourceBearer:
		delete(h, "Authorization")
	case SourceAPIKey:
		dropAPIKey(h)
	}
}

package flows

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/caddyauth/gateway/internal/apikey"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

// apiKeyHeader is the other place a key may come in besides
// Authorization: Bearer.
const apiKeyHeader = "X-Api-Key"

// API key refusals: a key that is not one, unknown, revoked or whose owner
// cannot sign in is one answer (nothing tells a guesser which); an expired
// key says so, so its owner knows to make a new one.
var (
	errAPIKeyInvalid = apiErr(http.StatusUnauthorized, CodeTokenInvalid, "The API key is not valid.")
	errAPIKeyExpired = apiErr(http.StatusUnauthorized, CodeTokenExpired, "The API key has expired.")
	// errAPIKeySingleFactor: a `require mfa` site refuses keys, with the
	// code every single-factor credential gets there; a key cannot step
	// up, so the answer is final.
	errAPIKeySingleFactor = apiErr(http.StatusForbidden, CodeMFARequired, "This site requires a second factor; an API key is a single factor and cannot pass it.")
)

// apiKeyCredential is an API key in `Authorization: Bearer <key>` or
// `X-API-Key: <key>`. It is asked only for protected sites and
// /auth/verify (Service.guardCreds), never for the portal.
//
// Keys are looked up in the store on every use, never cached, so a revoke,
// an expiry or the owner's disable is felt on the very next request on
// every instance; the cost is two indexed reads per request (key, owner).
// last_used_at is written at most once an hour per key.
type apiKeyCredential struct{ s *Service }

// apiKeyValue returns the key a request presents: X-API-Key (one line),
// else a bearer value shaped like a key. ok is false when there is none;
// a malformed one (several lines, wrong shape) is ok with v "".
func apiKeyValue(h http.Header) (v string, ok bool) {
	if lines := h[apiKeyHeader]; len(lines) > 0 {
		if len(lines) > 1 {
			return "", true
		}
		return strings.TrimSpace(lines[0]), true
	}
	b, isBearer := bearerValue(h)
	if !isBearer || !apikey.Looks(b) {
		return "", false
	}
	return b, true
}

func (c apiKeyCredential) presented(h http.Header) bool {
	_, ok := apiKeyValue(h)
	return ok
}

func (c apiKeyCredential) find(ctx context.Context, h http.Header, _ bool) (found, error) {
	v, ok := apiKeyValue(h)
	if !ok {
		return found{}, nil
	}
	refused := func(e *APIError) (found, error) {
		return found{Source: SourceAPIKey, Presented: true, Refused: e}, nil
	}
	id, secret, ok := apikey.Parse(v)
	if !ok {
		return refused(errAPIKeyInvalid)
	}
	k, err := c.s.deps.APIKeys.APIKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return refused(errAPIKeyInvalid)
	}
	if err != nil {
		return found{Source: SourceAPIKey, Presented: true}, err
	}
	if !apikey.Matches(k.Hash, secret) {
		return refused(errAPIKeyInvalid)
	}
	now := c.s.cfg.Now()
	if k.Expired(now) {
		return refused(errAPIKeyExpired)
	}
	u, err := c.s.deps.Users.UserByID(ctx, k.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return refused(errAPIKeyInvalid)
	}
	if err != nil {
		return found{Source: SourceAPIKey, Presented: true}, err
	}
	if !u.Active() {
		return refused(errAPIKeyInvalid)
	}
	if now.Sub(k.LastUsedAt) >= store.APIKeyTouchEvery {
		// A failed touch only loses an hour of last_used_at: the key was
		// read, so the request is judged.
		if err := c.s.deps.APIKeys.TouchAPIKey(context.WithoutCancel(ctx), k.ID, now); err != nil {
			c.s.log.Warn("api key: last_used_at not written", zap.String("key_id", k.ID), zapErr(err))
		}
	}
	// No session: the identity lives for this request. Its session id
	// names the key, so a signed assertion's sid and the assertion cache
	// tell keys apart from sessions and from each other.
	ident := &session.Identity{User: *u, Session: store.Session{
		ID: apiKeySessionPrefix + k.ID, UserID: u.ID, CreatedAt: k.CreatedAt, LastSeenAt: now,
		ExpiresAt: k.ExpiresAt, AuthMethod: store.AuthAPIKey,
	}}
	return found{ID: ident, Source: SourceAPIKey, Presented: true}, nil
}

// apiKeySessionPrefix begins the session id of a key's identity; session
// ids are hex, so it never names a real session.
const apiKeySessionPrefix = "apikey:"

// dropAPIKey removes the key a caller was admitted with before the
// request goes upstream: the app gets the identity, never the key.
func dropAPIKey(h http.Header) {
	delete(h, apiKeyHeader)
	if b, ok := bearerValue(h); ok && apikey.Looks(b) {
		delete(h, "Authorization")
	}
}

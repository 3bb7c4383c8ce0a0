package flows

import (
	"errors"
	"net/http"
	"time"

	"github.com/caddyauth/gateway/store"
)

// Self-service API keys (issue 13 item 3). Listing needs a full session;
// making and revoking one is a settings change: an enrolled user's session
// must have passed a real second factor, as for changing a factor. A key
// itself never reaches these routes (the portal does not take keys).
func (p *portal) apiKeyRoutes(mux *http.ServeMux) {
	if p.s.deps.APIKeys == nil {
		return
	}
	mux.HandleFunc("GET "+p.base+"/api-keys", p.withCaller(callerFull, "api keys", p.listAPIKeys))
	mux.HandleFunc("POST "+p.base+"/api-keys", p.withCaller(callerSettings, "api keys", p.createAPIKey))
	mux.HandleFunc("DELETE "+p.base+"/api-keys/{id}", p.withCaller(callerSettings, "api keys", p.revokeAPIKey))
}

// CodeAPIKeyLimit: the user already holds MaxAPIKeysPerUser keys.
const CodeAPIKeyLimit = "API_KEY_LIMIT"

var errAPIKeyLimit = apiErr(http.StatusConflict, CodeAPIKeyLimit, "You hold the most API keys allowed. Revoke one first.")

// apiKeyView is a key as its owner sees it: never the secret nor its hash.
type apiKeyView struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	CreatedAt  string  `json:"created_at"`
	ExpiresAt  *string `json:"expires_at"`
	LastUsedAt *string `json:"last_used_at"`
}

func viewAPIKey(k *store.APIKey) apiKeyView {
	v := apiKeyView{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt.UTC().Format(time.RFC3339)}
	if !k.ExpiresAt.IsZero() {
		s := k.ExpiresAt.UTC().Format(time.RFC3339)
		v.ExpiresAt = &s
	}
	if !k.LastUsedAt.IsZero() {
		s := k.LastUsedAt.UTC().Format(time.RFC3339)
		v.LastUsedAt = &s
	}
	return v
}

// listAPIKeys: GET /auth/api-keys.
func (p *portal) listAPIKeys(w http.ResponseWriter, r *http.Request, c *caller) {
	list, err := p.s.Accounts().APIKeysOf(r.Context(), &c.id.User)
	if err != nil {
		p.s.storeFailure(w, r, "api keys", err)
		return
	}
	out := make([]apiKeyView, 0, len(list))
	for _, k := range list {
		out = append(out, viewAPIKey(k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"api_keys": out})
}

type createAPIKeyInput struct {
	Name    string `json:"name"`
	Expires string `json:"expires"`
}

// createAPIKey: POST /auth/api-keys with name and, optionally, expires
// ("90d", "720h"). The key is in this answer and nowhere else, ever.
func (p *portal) createAPIKey(w http.ResponseWriter, r *http.Request, c *caller) {
	var in createAPIKeyInput
	if e := decode(r, &in, map[string]*string{"name": &in.Name, "expires": &in.Expires}); e != nil {
		p.s.writeError(w, r, e)
		return
	}
	life, err := ParseLifetime(in.Expires)
	if err != nil {
		p.s.writeError(w, r, invalidInput("expires: "+err.Error()+"."))
		return
	}
	made, err := p.s.Accounts().CreateAPIKey(r.Context(), p.s.actor(r, c.id.User.ID), &c.id.User, in.Name, life)
	switch {
	case errors.Is(err, ErrInvalidAPIKeyName):
		p.s.writeError(w, r, invalidInput("name: give the key a name of 1 to 100 characters, without control characters."))
		return
	case errors.Is(err, ErrInvalidAPIKeyLife):
		p.s.writeError(w, r, invalidInput("expires: a key lives between 1 minute and 5 years."))
		return
	case errors.Is(err, ErrTooManyAPIKeys):
		p.s.writeError(w, r, errAPIKeyLimit)
		return
	case errors.Is(err, ErrAPIKeyOwnerInactive):
		p.s.writeError(w, r, errUnauthenticated)
		return
	case err != nil:
		p.s.storeFailure(w, r, "api keys", err)
		return
	}
	v := viewAPIKey(made.Key)
	writeJSON(w, http.StatusCreated, map[string]any{
		"api_key": made.Value, "id": v.ID, "name": v.Name, "created_at": v.CreatedAt, "expires_at": v.ExpiresAt,
	})
}

// revokeAPIKey: DELETE /auth/api-keys/{id}, one of the caller's own.
func (p *portal) revokeAPIKey(w http.ResponseWriter, r *http.Request, c *caller) {
	err := p.s.Accounts().RevokeAPIKey(r.Context(), p.s.actor(r, c.id.User.ID), &c.id.User, r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		p.s.writeError(w, r, errNotFound)
		return
	case err != nil:
		p.s.storeFailure(w, r, "api keys", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": true})
}

package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"golang.org/x/oauth2"
)

// Facebook: OAuth 2 and the Graph API `/me?fields=id,name,email`. Graph
// returns an email only once the user confirmed it, so a returned email is
// treated as verified.
var facebookEndpoint = oauth2.Endpoint{
	AuthURL:  "https://www.facebook.com/v23.0/dialog/oauth",
	TokenURL: "https://graph.facebook.com/v23.0/oauth/access_token",
}

const facebookMe = "https://graph.facebook.com/v23.0/me"

type facebookBackend struct {
	cfg *Config
	oc  *oauth2.Config
	me  string
}

func newFacebook(cfg *Config) (backend, error) {
	if err := needSecret(cfg); err != nil {
		return nil, err
	}
	b := &facebookBackend{cfg: cfg, oc: oauth2Config(cfg, facebookEndpoint, []string{"public_profile", "email"}), me: facebookMe}
	if cfg.UserinfoURL != "" {
		b.me = cfg.UserinfoURL
	}
	return b, nil
}

func (b *facebookBackend) authURL(_ context.Context, redirectURL, state, _, challenge string) (string, error) {
	return authURLFor(b.oc, redirectURL, state, "", challenge), nil
}

func (b *facebookBackend) exchange(ctx context.Context, cb Callback) (*Identity, error) {
	tok, err := exchangeCode(ctx, b.cfg, b.oc, cb)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(b.me)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	q := u.Query()
	q.Set("fields", "id,name,email")
	u.RawQuery = q.Encode()
	var me struct {
		ID    json.Number `json:"id"`
		Name  string      `json:"name"`
		Email string      `json:"email"`
	}
	if err := getJSON(ctx, b.cfg.HTTPClient, tok, u.String(), &me); err != nil {
		return nil, err
	}
	return &Identity{Subject: me.ID.String(), Name: me.Name, Email: me.Email, EmailVerified: me.Email != ""}, nil
}

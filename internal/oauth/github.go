package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/oauth2"
)

// GitHub is OAuth 2 only: the account id comes from GET /user (the numeric
// id, never the login, which can be renamed and reused), the email from GET
// /user/emails (only the primary, verified one counts).
var githubEndpoint = oauth2.Endpoint{
	AuthURL:  "https://github.com/login/oauth/authorize",
	TokenURL: "https://github.com/login/oauth/access_token",
}

const githubUser = "https://api.github.com/user"

type githubBackend struct {
	cfg  *Config
	oc   *oauth2.Config
	user string
}

func newGitHub(cfg *Config) (backend, error) {
	if err := needSecret(cfg); err != nil {
		return nil, err
	}
	b := &githubBackend{cfg: cfg, oc: oauth2Config(cfg, githubEndpoint, []string{"read:user", "user:email"}), user: githubUser}
	if cfg.UserinfoURL != "" {
		b.user = cfg.UserinfoURL
	}
	return b, nil
}

func (b *githubBackend) authURL(_ context.Context, redirectURL, state, _, challenge string) (string, error) {
	return authURLFor(b.oc, redirectURL, state, "", challenge), nil
}

func (b *githubBackend) exchange(ctx context.Context, cb Callback) (*Identity, error) {
	tok, err := exchangeCode(ctx, b.cfg, b.oc, cb)
	if err != nil {
		return nil, err
	}
	var u struct {
		ID    json.Number `json:"id"`
		Login string      `json:"login"`
		Name  string      `json:"name"`
	}
	if err := getJSON(ctx, b.cfg.HTTPClient, tok, b.user, &u); err != nil {
		return nil, err
	}
	if _, err := strconv.ParseInt(u.ID.String(), 10, 64); err != nil {
		return nil, fmt.Errorf("%w: github /user has no numeric id", ErrUnavailable)
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := getJSON(ctx, b.cfg.HTTPClient, tok, strings.TrimRight(b.user, "/")+"/emails", &emails); err != nil {
		return nil, err
	}
	id := &Identity{Subject: u.ID.String(), Name: u.Name}
	if id.Name == "" {
		id.Name = u.Login
	}
	for _, e := range emails {
		if e.Primary && e.Verified {
			id.Email, id.EmailVerified = e.Email, true
		}
	}
	return id, nil
}

// getJSON GETs url with the access token and decodes at most 1 MiB of JSON.
func getJSON(ctx context.Context, c *http.Client, tok *oauth2.Token, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s answered %s", ErrUnavailable, req.URL.Path, resp.Status)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, req.URL.Path, err)
	}
	return nil
}

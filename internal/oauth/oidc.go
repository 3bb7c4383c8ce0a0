package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const googleIssuer = "https://accounts.google.com"

// oidcBackend is any OpenID Connect provider (and the google preset).
type oidcBackend struct {
	cfg *Config

	mu        sync.Mutex
	ready     *oidcReady
	lastTry   time.Time
	lastError error
}

type oidcReady struct {
	oc       *oauth2.Config
	verifier *oidc.IDTokenVerifier
	provider *oidc.Provider
	userinfo string
}

func newOIDC(cfg *Config) (backend, error) {
	if cfg.Kind == KindGoogle && cfg.Issuer == "" {
		cfg.Issuer = googleIssuer
	}
	if cfg.Issuer == "" {
		return nil, fmt.Errorf("oidc %s: issuer is required", cfg.Name)
	}
	if err := needSecret(cfg); err != nil {
		return nil, err
	}
	return &oidcBackend{cfg: cfg}, nil
}

// discover fetches the discovery document once (go-oidc checks that its
// issuer is the configured one); a failure is retried at most every 5s.
func (b *oidcBackend) discover() (*oidcReady, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ready != nil {
		return b.ready, nil
	}
	now := time.Now()
	if b.lastError != nil && now.Sub(b.lastTry) < 5*time.Second {
		return nil, b.lastError
	}
	b.lastTry = now
	// The key set keeps this context for its later fetches: it must not
	// be a request's.
	ctx := oidc.ClientContext(context.Background(), b.cfg.HTTPClient)
	p, err := oidc.NewProvider(ctx, b.cfg.Issuer)
	if err != nil {
		b.lastError = fmt.Errorf("%w: discovery of %s: %w", ErrUnavailable, b.cfg.Issuer, err)
		return nil, b.lastError
	}
	vc := &oidc.Config{ClientID: b.cfg.ClientID, Now: b.cfg.Now}
	verifier := p.Verifier(vc)
	if b.cfg.KeysURL != "" {
		verifier = oidc.NewVerifier(b.cfg.Issuer, oidc.NewRemoteKeySet(ctx, b.cfg.KeysURL), vc)
	}
	r := &oidcReady{
		oc:       oauth2Config(b.cfg, p.Endpoint(), []string{oidc.ScopeOpenID, "email", "profile"}),
		verifier: verifier,
		provider: p,
		userinfo: p.UserInfoEndpoint(),
	}
	if b.cfg.UserinfoURL != "" {
		r.userinfo = b.cfg.UserinfoURL
	}
	b.ready, b.lastError = r, nil
	return r, nil
}

func (b *oidcBackend) authURL(_ context.Context, redirectURL, state, nonce, challenge string) (string, error) {
	r, err := b.discover()
	if err != nil {
		return "", err
	}
	var extra []oauth2.AuthCodeOption
	if b.cfg.HostedDomain != "" {
		extra = append(extra, oauth2.SetAuthURLParam("hd", b.cfg.HostedDomain))
	}
	if len(b.cfg.ACRValues) > 0 {
		extra = append(extra, oauth2.SetAuthURLParam("acr_values", strings.Join(b.cfg.ACRValues, " ")))
	}
	return authURLFor(r.oc, redirectURL, state, nonce, challenge, extra...), nil
}

func (b *oidcBackend) exchange(ctx context.Context, cb Callback) (*Identity, error) {
	r, err := b.discover()
	if err != nil {
		return nil, err
	}
	tok, err := exchangeCode(ctx, b.cfg, r.oc, cb)
	if err != nil {
		return nil, err
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: the token response has no id_token", ErrInvalidToken)
	}
	claims, err := verifyIDToken(oidc.ClientContext(ctx, b.cfg.HTTPClient), r.verifier, raw, cb.Nonce)
	if err != nil {
		return nil, err
	}
	if b.cfg.HostedDomain != "" && claimString(claims, "hd") != b.cfg.HostedDomain {
		return nil, fmt.Errorf("%w: hosted domain %q, want %q", ErrInvalidToken, claimString(claims, "hd"), b.cfg.HostedDomain)
	}
	id := identityFromClaims(b.cfg, claims)
	_, hasGroups := claims[b.cfg.ClaimGroups]
	if id.Email == "" || (b.cfg.ClaimGroups != "" && !hasGroups) {
		// Some providers keep email or groups out of the ID token: ask
		// the userinfo endpoint, whose `sub` must match.
		if r.userinfo != "" {
			if err := b.mergeUserinfo(ctx, r, tok, claims); err != nil {
				return nil, err
			}
			id = identityFromClaims(b.cfg, claims)
		}
	}
	return id, nil
}

func (b *oidcBackend) mergeUserinfo(ctx context.Context, r *oidcReady, tok *oauth2.Token, claims map[string]any) error {
	ctx = oidc.ClientContext(ctx, b.cfg.HTTPClient)
	ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("%w: userinfo: %w", ErrUnavailable, err)
	}
	var extra map[string]any
	if err := ui.Claims(&extra); err != nil {
		return fmt.Errorf("%w: userinfo: %w", ErrUnavailable, err)
	}
	if claimString(extra, "sub") != claimString(claims, "sub") {
		return fmt.Errorf("%w: userinfo subject differs from the ID token's", ErrInvalidToken)
	}
	for k, v := range extra {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	return nil
}

// verifyIDToken checks signature, issuer, audience and expiry (go-oidc)
// and the nonce, and returns the claims.
func verifyIDToken(ctx context.Context, v *oidc.IDTokenVerifier, raw, nonce string) (map[string]any, error) {
	t, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if nonce == "" || t.Nonce != nonce {
		return nil, fmt.Errorf("%w: nonce mismatch", ErrInvalidToken)
	}
	var claims map[string]any
	if err := t.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrInvalidToken, err)
	}
	return claims, nil
}

// identityFromClaims reads the standard claims.
func identityFromClaims(cfg *Config, c map[string]any) *Identity {
	id := &Identity{
		Subject:       claimString(c, "sub"),
		Email:         claimString(c, "email"),
		EmailVerified: claimBool(c, "email_verified"),
		Name:          claimString(c, "name"),
	}
	if id.Name == "" {
		id.Name = strings.TrimSpace(claimString(c, "given_name") + " " + claimString(c, "family_name"))
	}
	if id.Name == "" {
		id.Name = claimString(c, "preferred_username")
	}
	if cfg.ClaimGroups != "" {
		id.Groups = claimStrings(c, cfg.ClaimGroups)
	}
	if cfg.TrustIdPMFA {
		id.MFA = mfaAsserted(cfg, claimStrings(c, "amr"), claimString(c, "acr"))
	}
	return id
}

func claimString(c map[string]any, k string) string {
	switch v := c[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case float64:
		return fmt.Sprintf("%.0f", v)
	}
	return ""
}

// claimBool accepts true and "true" (Apple and some others send strings).
func claimBool(c map[string]any, k string) bool {
	switch v := c[k].(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

// claimStrings reads an array of strings, or one string as one value: a
// string is never split, so "helpdesk admin" is one (invalid) group name
// that the flows refuse, not the groups helpdesk and admin. A non-string
// element is skipped. Absent: empty, not nil, so a configured claim that
// the IdP left out clears the groups.
func claimStrings(c map[string]any, k string) []string {
	out := []string{}
	switch v := c[k].(type) {
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
	case string:
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

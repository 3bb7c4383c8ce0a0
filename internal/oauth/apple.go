package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
)

// Sign in with Apple: OAuth 2 with an ID token. The client secret is an
// ES256 JWT signed with the developer key (team id, key id); the answer is a
// cross-site form POST (response_mode=form_post); the user's name comes
// only on the first login, in the `user` form field.
const (
	appleIssuer = "https://appleid.apple.com"
	appleKeys   = "https://appleid.apple.com/auth/keys"
	// appleSecretLife is the client secret's lifetime (Apple allows up to
	// six months); it is renewed when less than a quarter remains.
	appleSecretLife = 24 * time.Hour
)

var appleEndpoint = oauth2.Endpoint{
	AuthURL:   "https://appleid.apple.com/auth/authorize",
	TokenURL:  "https://appleid.apple.com/auth/token",
	AuthStyle: oauth2.AuthStyleInParams,
}

type appleBackend struct {
	cfg      *Config
	oc       *oauth2.Config
	key      *ecdsa.PrivateKey
	verifier *oidc.IDTokenVerifier

	mu        sync.Mutex
	secret    string
	secretExp time.Time
}

func newApple(cfg *Config) (backend, error) {
	if cfg.TeamID == "" || cfg.KeyID == "" || len(cfg.PrivateKey) == 0 {
		return nil, fmt.Errorf("oauth apple: team_id, key_id and private_key_file are required")
	}
	key, err := parseECKey(cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("oauth apple: private key: %w", err)
	}
	if cfg.Issuer == "" {
		cfg.Issuer = appleIssuer
	}
	keys := appleKeys
	if cfg.KeysURL != "" {
		keys = cfg.KeysURL
	}
	oc := oauth2Config(cfg, appleEndpoint, []string{"name", "email"})
	oc.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	ctx := oidc.ClientContext(context.Background(), cfg.HTTPClient)
	v := oidc.NewVerifier(cfg.Issuer, oidc.NewRemoteKeySet(ctx, keys), &oidc.Config{ClientID: cfg.ClientID, Now: cfg.Now, SupportedSigningAlgs: []string{"RS256", "ES256"}})
	return &appleBackend{cfg: cfg, oc: oc, key: key, verifier: v}, nil
}

// parseECKey reads a PKCS#8 (Apple's .p8) or SEC 1 PEM P-256 key.
func parseECKey(b []byte) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("not PEM")
	}
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, errors.New("not an EC key")
		}
		return ec, nil
	}
	return x509.ParseECPrivateKey(blk.Bytes)
}

// clientSecret returns the cached ES256 client secret, renewing it before
// it expires.
func (b *appleBackend) clientSecret() (string, error) {
	now := b.cfg.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.secret != "" && now.Before(b.secretExp.Add(-appleSecretLife/4)) {
		return b.secret, nil
	}
	exp := now.Add(appleSecretLife)
	t := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.RegisteredClaims{
		Issuer:    b.cfg.TeamID,
		Subject:   b.cfg.ClientID,
		Audience:  jwt.ClaimStrings{appleIssuer},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	})
	t.Header["kid"] = b.cfg.KeyID
	s, err := t.SignedString(b.key)
	if err != nil {
		return "", err
	}
	b.secret, b.secretExp = s, exp
	return s, nil
}

func (b *appleBackend) authURL(_ context.Context, redirectURL, state, nonce, challenge string) (string, error) {
	return authURLFor(b.oc, redirectURL, state, nonce, challenge, oauth2.SetAuthURLParam("response_mode", "form_post")), nil
}

func (b *appleBackend) exchange(ctx context.Context, cb Callback) (*Identity, error) {
	secret, err := b.clientSecret()
	if err != nil {
		return nil, fmt.Errorf("%w: client secret: %w", ErrUnavailable, err)
	}
	oc := *b.oc
	oc.ClientSecret = secret
	tok, err := exchangeCode(ctx, b.cfg, &oc, cb)
	if err != nil {
		return nil, err
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: the token response has no id_token", ErrInvalidToken)
	}
	claims, err := verifyIDToken(oidc.ClientContext(ctx, b.cfg.HTTPClient), b.verifier, raw, cb.Nonce)
	if err != nil {
		return nil, err
	}
	id := identityFromClaims(b.cfg, claims)
	id.Name = appleName(cb.Form.Get("user"))
	return id, nil
}

// appleName reads the name Apple sends on the first login only:
// user={"name":{"firstName":"..","lastName":".."},"email":".."}. Anything
// malformed is ignored (the name is cosmetic).
func appleName(raw string) string {
	if raw == "" || len(raw) > 4096 {
		return ""
	}
	var u struct {
		Name struct {
			FirstName string `json:"firstName"`
			LastName  string `json:"lastName"`
		} `json:"name"`
	}
	if json.Unmarshal([]byte(raw), &u) != nil {
		return ""
	}
	n := strings.TrimSpace(u.Name.FirstName + " " + u.Name.LastName)
	if len(n) > 200 {
		n = n[:200]
	}
	return n
}

package flows

import (
	"fmt"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/ratelimit"
)

// TokenConfig shapes bearer mode and the signed identity assertion.
type TokenConfig struct {
	// Issuer is the iss of every token and assertion, and the aud of
	// access tokens (the gateway is their only audience). Default
	// DefaultIssuer.
	Issuer string
	// AccessTTL is an access token's life (default 15 minutes; never past
	// the session's own end).
	AccessTTL time.Duration
	// AssertionTTL is a signed assertion's life (default 60 seconds).
	AssertionTTL time.Duration
	// RefreshClient and RefreshSession bound POST /auth/refresh per client
	// address and per session (defaults 60 and 10 a minute). The zero
	// Rate is unset (the default); N 0 with a Per is off.
	RefreshClient, RefreshSession ratelimit.Rate
}

// DefaultIssuer names the gateway in tokens when no issuer is configured.
const DefaultIssuer = "caddyauth"

// Token types in the JWT "typ" header: an access token (RFC 9068) and an
// assertion. Each purpose also has its own key, so neither verifies as
// the other (ASVS 9.2.2).
const (
	typAccess    = "at+jwt"
	typAssertion = "JWT"
)

// tokenLeeway is the clock skew allowed between instances (exp, nbf, iat).
const tokenLeeway = 30 * time.Second

func (c *TokenConfig) setDefaults() error {
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	if c.AccessTTL == 0 {
		c.AccessTTL = 15 * time.Minute
	}
	if c.AssertionTTL == 0 {
		c.AssertionTTL = 60 * time.Second
	}
	if c.AccessTTL < 0 || c.AssertionTTL < 0 {
		return fmt.Errorf("token lifetimes must be positive")
	}
	if c.RefreshClient.N == 0 && c.RefreshClient.Per == 0 {
		c.RefreshClient = ratelimit.Rate{N: 60, Per: time.Minute}
	}
	if c.RefreshSession.N == 0 && c.RefreshSession.Per == 0 {
		c.RefreshSession = ratelimit.Rate{N: 10, Per: time.Minute}
	}
	return nil
}

// tokenKeys are the signing and MAC keys of bearer mode, derived from the
// master secret (current signs, previous still verifies).
type tokenKeys struct {
	cfg       TokenConfig
	access    *keys.Signer
	assertion *keys.Signer
	// refresh keys the refresh tokens' MAC: current first, then previous.
	refresh [][]byte
	// refreshClient and refreshSession bound /auth/refresh.
	refreshClient, refreshSession ratelimit.Limiter
	// verified remembers access tokens already verified (token_access.go).
	verified memo[string, *accessClaims]
}

func newTokenKeys(cfg TokenConfig, ring *keys.Ring, mk NewLimiter, maxKeys int) (*tokenKeys, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if mk == nil {
		mk = localLimiters(maxKeys)
	}
	return &tokenKeys{
		cfg:            cfg,
		access:         ring.Signer("access-token"),
		assertion:      ring.Signer("assertion"),
		refresh:        ring.VerifyKeys("refresh-token"),
		refreshClient:  mk(BucketRefreshClient, cfg.RefreshClient),
		refreshSession: mk(BucketRefreshSession, cfg.RefreshSession),
		verified:       memo[string, *accessClaims]{max: maxVerified},
	}, nil
}

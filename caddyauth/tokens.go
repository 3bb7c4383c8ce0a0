package caddyauth

import (
	"errors"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyauth/gateway/flows"
)

// TokensConfig shapes bearer mode's access tokens and the signed
// assertions (`tokens { ... }`). Zero values keep the defaults.
type TokensConfig struct {
	// Issuer is the iss of access tokens and assertions and the aud of
	// access tokens (default "caddyauth"). Upstreams that verify
	// assertions pin it.
	Issuer string `json:"issuer,omitempty"`
	// AccessLifetime is an access token's life (default 15m, 1m to 1h).
	AccessLifetime caddy.Duration `json:"access_lifetime,omitempty"`
	// AssertionLifetime is a signed assertion's life (default 60s, 10s
	// to 10m).
	AssertionLifetime caddy.Duration `json:"assertion_lifetime,omitempty"`
}

var (
	errTokenIssuer    = errors.New("caddyauth: tokens issuer must be 1 to 256 printable ASCII characters without spaces")
	errAccessLife     = errors.New("caddyauth: tokens access_lifetime must be between 1m and 1h")
	errAssertionLife  = errors.New("caddyauth: tokens assertion_lifetime must be between 10s and 10m")
	minAccessLife     = time.Minute
	maxAccessLife     = time.Hour
	minAssertionLife  = 10 * time.Second
	maxAssertionLife  = 10 * time.Minute
	maxTokenIssuerLen = 256
)

// checkTokens judges a tokens block (nil: the defaults).
func checkTokens(c *TokensConfig) []error {
	if c == nil {
		return nil
	}
	var errs []error
	if c.Issuer != "" && !printableToken(c.Issuer, maxTokenIssuerLen) {
		errs = append(errs, errTokenIssuer)
	}
	if d := time.Duration(c.AccessLifetime); d != 0 && (d < minAccessLife || d > maxAccessLife) {
		errs = append(errs, errAccessLife)
	}
	if d := time.Duration(c.AssertionLifetime); d != 0 && (d < minAssertionLife || d > maxAssertionLife) {
		errs = append(errs, errAssertionLife)
	}
	return errs
}

func printableToken(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// tokenConfig is the flows form of the tokens block.
func (a *App) tokenConfig() flows.TokenConfig {
	var tc flows.TokenConfig
	if c := a.Tokens; c != nil {
		tc = flows.TokenConfig{
			Issuer: c.Issuer, AccessTTL: time.Duration(c.AccessLifetime),
			AssertionTTL: time.Duration(c.AssertionLifetime),
		}
	}
	tc.RefreshClient, tc.RefreshSession = refreshRates(a.RateLimit)
	return tc
}

// parseTokens parses:
//
//	tokens {
//	    issuer <name>                   # default caddyauth
//	    access_lifetime <duration>      # default 15m, 1m to 1h
//	    assertion_lifetime <duration>   # default 60s, 10s to 10m
//	}
func parseTokens(d *caddyfile.Dispenser) (*TokensConfig, error) {
	c := &TokensConfig{}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		v, err := oneArg(d)
		if err != nil {
			return nil, err
		}
		switch opt {
		case "issuer":
			c.Issuer = v
		case "access_lifetime", "assertion_lifetime":
			dur, err := duration(d, "tokens "+opt, v)
			if err != nil {
				return nil, err
			}
			if opt == "access_lifetime" {
				c.AccessLifetime = caddy.Duration(dur)
			} else {
				c.AssertionLifetime = caddy.Duration(dur)
			}
		default:
			return nil, d.Errf("caddyauth: tokens: unknown option %q", opt)
		}
		// Judged here, so the error names this line.
		if errs := checkTokens(c); len(errs) > 0 {
			return nil, d.Err(errs[0].Error())
		}
	}
	return c, nil
}

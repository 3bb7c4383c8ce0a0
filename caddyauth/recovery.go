package caddyauth

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyauth/gateway/flows"
)

// PasswordResetConfig is the `password_reset` option. Forgot/reset
// password is on whenever an email or SMS sender is configured; Off turns
// it off.
type PasswordResetConfig struct {
	// Off turns the reset flow off (`password_reset off`).
	Off bool `json:"off,omitempty"`
	// TTL is how long a reset link and code live (default 15m, at most 24h).
	TTL caddy.Duration `json:"ttl,omitempty"`
}

// maxResetTTL: a reset link is a password; a day is the most it may live.
const maxResetTTL = 24 * time.Hour

// parsePasswordReset: password_reset off | password_reset { ttl <d> }
func parsePasswordReset(d *caddyfile.Dispenser) (*PasswordResetConfig, error) {
	c := new(PasswordResetConfig)
	if d.NextArg() {
		if d.Val() != "off" || d.NextArg() {
			return nil, d.Err("caddyauth: password_reset takes `off` or a block { ttl <duration> }")
		}
		c.Off = true
		return c, nil
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "ttl":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			dur, err := duration(d, "password_reset ttl", v)
			if err != nil {
				return nil, err
			}
			if err := checkResetTTL(dur); err != nil {
				return nil, d.Err(err.Error())
			}
			c.TTL = caddy.Duration(dur)
		default:
			return nil, d.Errf("caddyauth: unknown password_reset option %q (want ttl)", opt)
		}
	}
	return c, nil
}

func checkResetTTL(d time.Duration) error {
	if d < time.Minute || d > maxResetTTL {
		return fmt.Errorf("caddyauth: password_reset ttl must be between 1m and 24h, not %s", d)
	}
	return nil
}

// passwordResetProblems judges the option (a JSON config never meets the
// parser).
func (a *App) passwordResetProblems() []error {
	if c := a.PasswordReset; c != nil && c.TTL != 0 {
		return []error{checkResetTTL(time.Duration(c.TTL))}
	}
	return nil
}

// passwordResetOn: a sender exists and the option does not say off.
func (a *App) passwordResetOn() bool {
	return (a.Email != nil || a.SMS != nil) && (a.PasswordReset == nil || !a.PasswordReset.Off)
}

// passwordReset is the flows' view of the option.
func (a *App) passwordReset() flows.PasswordResetConfig {
	c := flows.PasswordResetConfig{On: a.passwordResetOn()}
	if a.PasswordReset != nil {
		c.TTL = time.Duration(a.PasswordReset.TTL)
	}
	return c
}

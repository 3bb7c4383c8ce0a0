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

// parsePasswordReset parses `password_reset off` and `password_reset { ttl <d> }`.
func parsePasswordReset(d *caddyfile.Dispenser) (*PasswordResetConfig, error) {
	c := new(PasswordResetConfig)
	if d.NextArg() {
		if d.Val() != "off" || d.NextArg() {
			return nil, d.Err("caddyauth: password_reset takes `off` or a block { ttl <duration> }")
		}
		c.Off = true
		return c, nil
	}
	ttl, err := parseTTLBlock(d, "password_reset", checkResetTTL)
	if err != nil {
		return nil, err
	}
	c.TTL = ttl
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

// PasswordlessConfig is the `passwordless` option: sign-in by a code or
// magic link, off unless given.
type PasswordlessConfig struct {
	// Channels the code may go by: "email", "sms" (each needs its sender).
	Channels []string `json:"channels,omitempty"`
	// TTL is how long a code and link live (default 10m, at most 1h).
	TTL caddy.Duration `json:"ttl,omitempty"`
}

// maxPasswordlessTTL: a sign-in link is a credential; an hour at most.
const maxPasswordlessTTL = time.Hour

// parsePasswordless parses `passwordless email [sms] [{ ttl <d> }]`.
func parsePasswordless(d *caddyfile.Dispenser) (*PasswordlessConfig, error) {
	c := &PasswordlessConfig{Channels: d.RemainingArgs()}
	if len(c.Channels) == 0 {
		return nil, d.Err("caddyauth: passwordless takes its channels: email, sms or both")
	}
	if err := checkPasswordlessChannels(c.Channels); err != nil {
		return nil, d.Err(err.Error())
	}
	ttl, err := parseTTLBlock(d, "passwordless", checkPasswordlessTTL)
	if err != nil {
		return nil, err
	}
	c.TTL = ttl
	return c, nil
}

func checkPasswordlessChannels(chs []string) error {
	seen := map[string]bool{}
	for _, ch := range chs {
		if ch != "email" && ch != "sms" {
			return fmt.Errorf("caddyauth: passwordless channel %q (want email or sms)", ch)
		}
		if seen[ch] {
			return fmt.Errorf("caddyauth: passwordless channel %q given twice", ch)
		}
		seen[ch] = true
	}
	return nil
}

func checkPasswordlessTTL(d time.Duration) error {
	if d < time.Minute || d > maxPasswordlessTTL {
		return fmt.Errorf("caddyauth: passwordless ttl must be between 1m and 1h, not %s", d)
	}
	return nil
}

// passwordlessProblems judges the option: known channels, each with its
// sender, and the TTL.
func (a *App) passwordlessProblems() []error {
	c := a.Passwordless
	if c == nil {
		return nil
	}
	errs := []error{checkPasswordlessChannels(c.Channels)}
	if len(c.Channels) == 0 {
		errs = append(errs, fmt.Errorf("caddyauth: passwordless needs a channel: email, sms or both"))
	}
	for _, ch := range c.Channels {
		if ch == "email" && a.Email == nil || ch == "sms" && a.SMS == nil {
			errs = append(errs, fmt.Errorf("caddyauth: passwordless %s needs an `%s` sender", ch, ch))
		}
	}
	if c.TTL != 0 {
		errs = append(errs, checkPasswordlessTTL(time.Duration(c.TTL)))
	}
	return errs
}

// passwordless is the flows' view of the option.
func (a *App) passwordless() flows.PasswordlessConfig {
	if a.Passwordless == nil {
		return flows.PasswordlessConfig{}
	}
	return flows.PasswordlessConfig{Channels: a.Passwordless.Channels, TTL: time.Duration(a.Passwordless.TTL)}
}

// parseTTLBlock reads a `{ ttl <duration> }` block of option name (none:
// 0, the default), judged by check; errors name the line.
func parseTTLBlock(d *caddyfile.Dispenser, name string, check func(time.Duration) error) (caddy.Duration, error) {
	var ttl caddy.Duration
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "ttl":
			v, err := oneArg(d)
			if err != nil {
				return 0, err
			}
			dur, err := duration(d, name+" ttl", v)
			if err != nil {
				return 0, err
			}
			if err := check(dur); err != nil {
				return 0, d.Err(err.Error())
			}
			ttl = caddy.Duration(dur)
		default:
			return 0, d.Errf("caddyauth: unknown %s option %q (want ttl)", name, opt)
		}
	}
	return ttl, nil
}

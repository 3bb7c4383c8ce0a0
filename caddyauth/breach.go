package caddyauth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/internal/password"
)

// PasswordConfig is the `password` option: checks of new passwords beyond
// the built-in policy.
type PasswordConfig struct {
	// BreachCheck looks every new password up on a k-anonymity range
	// server (nil: no lookup).
	BreachCheck *BreachCheckConfig `json:"breach_check,omitempty"`
}

// BreachCheckConfig is `breach_check <url> [{ timeout <d>  on_error allow|refuse }]`.
type BreachCheckConfig struct {
	// URL is the range server's base: GET <URL>/range/<5 hex> is asked
	// (https://api.pwnedpasswords.com for Have I Been Pwned). A whole
	// placeholder ({env.X}) is resolved.
	URL string `json:"url"`
	// Timeout bounds one lookup (default 2s, 100ms to 10s).
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// OnError is what a failed lookup means for the password: "allow"
	// (default: accepted, with a warning) or "refuse" (503
	// BREACH_CHECK_UNAVAILABLE).
	OnError string `json:"on_error,omitempty"`
}

// Bounds of breach_check timeout: a person waits for the lookup.
const (
	minBreachTimeout = 100 * time.Millisecond
	maxBreachTimeout = 10 * time.Second
)

// parsePassword parses `password { breach_check <url> [{ ... }] }`.
func parsePassword(d *caddyfile.Dispenser) (*PasswordConfig, error) {
	if d.NextArg() {
		return nil, d.Err("caddyauth: password takes a block: password { breach_check <url> }")
	}
	c := new(PasswordConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "breach_check":
			if c.BreachCheck != nil {
				return nil, d.Err("caddyauth: password: breach_check given twice")
			}
			b, err := parseBreachCheck(d)
			if err != nil {
				return nil, err
			}
			c.BreachCheck = b
		default:
			return nil, d.Errf("caddyauth: password: unknown option %q (want breach_check)", opt)
		}
	}
	if c.BreachCheck == nil {
		return nil, d.Err("caddyauth: password needs a breach_check <url> line in its block")
	}
	return c, nil
}

// parseBreachCheck parses `breach_check <url> [{ timeout <d>  on_error allow|refuse }]`.
func parseBreachCheck(d *caddyfile.Dispenser) (*BreachCheckConfig, error) {
	args := d.RemainingArgs()
	if len(args) != 1 {
		return nil, d.Err("caddyauth: password breach_check takes one URL: breach_check <url> [{ timeout 2s  on_error allow|refuse }]")
	}
	c := &BreachCheckConfig{URL: args[0]}
	if err := checkBreachURL(c.URL); err != nil {
		return nil, d.Err(err.Error())
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "timeout":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			dur, err := duration(d, "password breach_check timeout", v)
			if err != nil {
				return nil, err
			}
			if err := checkBreachTimeout(dur); err != nil {
				return nil, d.Err(err.Error())
			}
			c.Timeout = caddy.Duration(dur)
		case "on_error":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			if err := checkBreachOnError(v); err != nil {
				return nil, d.Err(err.Error())
			}
			c.OnError = v
		default:
			return nil, d.Errf("caddyauth: password breach_check: unknown option %q (want timeout or on_error)", opt)
		}
	}
	return c, nil
}

// checkBreachURL: the prefix goes to an http(s) server named by host. A
// placeholder is judged once resolved (breachCheck).
func checkBreachURL(raw string) error {
	if strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("caddyauth: password breach_check %q is not an http(s) URL without credentials, query or fragment (https://api.pwnedpasswords.com)", raw)
	}
	return nil
}

func checkBreachTimeout(d time.Duration) error {
	if d < minBreachTimeout || d > maxBreachTimeout {
		return fmt.Errorf("caddyauth: password breach_check timeout must be between %s and %s, not %s", minBreachTimeout, maxBreachTimeout, d)
	}
	return nil
}

func checkBreachOnError(v string) error {
	switch v {
	case "", "allow", "refuse":
		return nil
	}
	return fmt.Errorf("caddyauth: password breach_check on_error %q (want allow or refuse)", v)
}

// passwordProblems judges the option (a JSON config never meets the
// parser).
func (a *App) passwordProblems() []error {
	if a.Password == nil {
		return nil
	}
	b := a.Password.BreachCheck
	if b == nil {
		return nil
	}
	if b.URL == "" {
		return []error{errors.New("caddyauth: password breach_check needs a URL")}
	}
	errs := []error{checkBreachURL(b.URL), checkBreachOnError(b.OnError)}
	if b.Timeout != 0 {
		errs = append(errs, checkBreachTimeout(time.Duration(b.Timeout)))
	}
	return errs
}

// breachCheck builds the flows' breached-password check (nil: none is
// configured), resolving a placeholder URL. warn hears failed lookups;
// nil leaves it to the flows (the server's log).
func (a *App) breachCheck(warn func(error)) (*flows.BreachCheck, error) {
	if a.Password == nil || a.Password.BreachCheck == nil {
		return nil, nil
	}
	if err := errors.Join(a.passwordProblems()...); err != nil {
		return nil, err
	}
	c := a.Password.BreachCheck
	raw, err := caddy.NewReplacer().ReplaceOrErr(c.URL, true, true)
	if err != nil {
		return nil, fmt.Errorf("caddyauth: password breach_check url: %w", err)
	}
	if strings.Contains(raw, "{") {
		return nil, fmt.Errorf("caddyauth: password breach_check url %q: unresolved placeholder", c.URL)
	}
	if err := checkBreachURL(raw); err != nil {
		return nil, err
	}
	timeout := time.Duration(c.Timeout)
	if timeout == 0 {
		timeout = password.DefaultBreachTimeout
	}
	return &flows.BreachCheck{
		Counter:       &password.BreachChecker{URL: raw, Timeout: timeout},
		RefuseOnError: c.OnError == "refuse",
		Warn:          warn,
	}, nil
}

// describeBreachCheck is the option as the startup log names it.
func (a *App) describeBreachCheck() string {
	if a.Password == nil || a.Password.BreachCheck == nil {
		return "off"
	}
	c := a.Password.BreachCheck
	onError := c.OnError
	if onError == "" {
		onError = "allow"
	}
	host := c.URL
	if u, err := url.Parse(c.URL); err == nil && u.Host != "" {
		host = u.Scheme + "://" + u.Host
	}
	return host + " (on_error " + onError + ")"
}

// cliPasswordError words a refusal of a new password for the command
// line: a failed breach lookup (on_error refuse) says that nothing was set
// and why; other reasons say themselves.
func cliPasswordError(err error) error {
	if errors.Is(err, password.ErrBreachUnavailable) {
		return fmt.Errorf("password not set: the breached-password check could not be done and breach_check on_error is refuse (try again when the range server answers): %w", err)
	}
	return err
}

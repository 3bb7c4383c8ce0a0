package caddyauth

import (
	"errors"
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/internal/disposable"
)

// RegistrationConfig is the `registration` option: self-service sign-up
// (issue 12), off by default.
type RegistrationConfig struct {
	// On offers sign-up (`registration on`).
	On bool `json:"on,omitempty"`
	// Domains, when set, are the only email domains that may sign up.
	Domains []string `json:"domains,omitempty"`
	// Disposable is block (default), flag or off.
	Disposable string `json:"disposable,omitempty"`
	// DisposableFile adds domains to the built-in disposable list (one a
	// line) or allows them (a line "-domain").
	DisposableFile string `json:"disposable_file,omitempty"`
	// Approval: new accounts wait for an administrator.
	Approval bool `json:"approval,omitempty"`
}

// parseRegistration parses
//
//	registration on|off [{
//	    domains <d>...
//	    disposable block|flag|off
//	    disposable_file <path>
//	    approval
//	}]
func parseRegistration(d *caddyfile.Dispenser) (*RegistrationConfig, error) {
	if !d.NextArg() {
		return nil, d.Err("caddyauth: registration takes `on` or `off`")
	}
	c := new(RegistrationConfig)
	switch d.Val() {
	case "on":
		c.On = true
	case "off":
	default:
		return nil, d.Errf("caddyauth: registration %q (want on or off)", d.Val())
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "domains":
			ds := d.RemainingArgs()
			if len(ds) == 0 {
				return nil, d.Err("caddyauth: registration domains needs at least one domain")
			}
			if err := checkRegistrationDomains(ds); err != nil {
				return nil, d.Err(err.Error())
			}
			c.Domains = append(c.Domains, ds...)
		case "disposable", "disposable_file":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			if opt == "disposable_file" {
				c.DisposableFile = v
				continue
			}
			if err := disposable.CheckMode(v); err != nil {
				return nil, d.Errf("caddyauth: registration %v", err)
			}
			c.Disposable = v
		case "approval":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			c.Approval = true
		default:
			return nil, d.Errf("caddyauth: unknown registration option %q (want domains, disposable, disposable_file or approval)", opt)
		}
	}
	return c, nil
}

func checkRegistrationDomains(ds []string) error {
	seen := map[string]bool{}
	for _, raw := range ds {
		n, ok := disposable.Normalize(raw)
		if !ok || !strings.Contains(n, ".") || strings.ContainsAny(raw, "@/*") {
			return fmt.Errorf("caddyauth: registration domains: %q is not a domain name", raw)
		}
		if seen[n] {
			return fmt.Errorf("caddyauth: registration domains: %q given twice", raw)
		}
		seen[n] = true
	}
	return nil
}

// registrationProblems judges the option (a JSON config never meets the
// parser): the domains, the mode, and that the operator file loads.
func (a *App) registrationProblems() []error {
	c := a.Registration
	if c == nil {
		return nil
	}
	var errs []error
	if len(c.Domains) > 0 {
		errs = append(errs, checkRegistrationDomains(c.Domains))
	}
	if c.Disposable != "" {
		if err := disposable.CheckMode(c.Disposable); err != nil {
			errs = append(errs, fmt.Errorf("caddyauth: registration %w", err))
		}
	}
	if c.DisposableFile != "" {
		if _, err := disposable.Load(c.DisposableFile); err != nil {
			errs = append(errs, fmt.Errorf("caddyauth: registration %w", err))
		}
	}
	if c.On {
		if a.Email == nil {
			errs = append(errs, errors.New("caddyauth: registration on needs an `email` sender (the verification mail)"))
		}
	}
	return errs
}

// registration is the option as the flows take it, with the operator's
// disposable file applied to the built-in list.
func (a *App) registration() (flows.RegistrationConfig, error) {
	c := a.Registration
	if c == nil {
		return flows.RegistrationConfig{}, nil
	}
	out := flows.RegistrationConfig{On: c.On, Domains: c.Domains, Disposable: c.Disposable, Approval: c.Approval}
	if c.DisposableFile != "" {
		l, err := disposable.Load(c.DisposableFile)
		if err != nil {
			return out, fmt.Errorf("caddyauth: registration %w", err)
		}
		out.DisposableList = l
	}
	return out, nil
}

package caddyauth

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddyauth/gateway/flows"
)

func init() {
	caddy.RegisterModule(&Portal{})
}

var errPortalURL = errors.New("protect: portal must be an absolute http(s) URL without credentials, query or fragment, such as https://auth.example.com/auth")

// Portal serves the login pages and JSON API under Base on a site that has
// no `protect` (a central portal such as auth.example.com). Other paths go
// to the next handler.
type Portal struct {
	// Base is the path prefix (default /auth).
	Base string `json:"base,omitempty"`
	// Verify admits hosts to GET <base>/verify, each with its rules
	// (portal_verify.go); a host with none is refused.
	Verify []VerifyLine `json:"verify,omitempty"`

	base    string
	handler http.Handler
}

// CaddyModule returns the Caddy module information.
func (*Portal) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.auth_portal", New: func() caddy.Module { return new(Portal) }}
}

// Provision judges the config, then builds the portal handler.
func (p *Portal) Provision(ctx caddy.Context) error {
	if err := p.Validate(); err != nil {
		return err
	}
	app, err := appFrom(ctx)
	if err != nil {
		return err
	}
	if err := app.checkCookieTransport(ctx, "auth_portal"); err != nil {
		return err
	}
	if p.Base == "" {
		p.Base = "/auth"
	}
	p.base = flows.CleanBase(p.Base)
	if p.base == "" {
		return errors.New("auth_portal: base path cannot be /")
	}
	v, err := p.verifier(app)
	if err != nil {
		return fmt.Errorf("auth_portal: %w", err)
	}
	p.handler = app.service.PortalWith(p.base, v)
	app.registerBase(p.base)
	return nil
}

// Validate refuses a base the Caddyfile parser would refuse, so JSON config
// meets the same rule.
func (p *Portal) Validate() error { return checkBase("auth_portal", p.Base) }

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if flows.InBase(p.base, r.URL.Path) {
		p.handler.ServeHTTP(w, r)
		return nil
	}
	return next.ServeHTTP(w, r)
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Portal)(nil)
	_ caddy.Validator             = (*Portal)(nil)
	_ caddyhttp.MiddlewareHandler = (*Portal)(nil)
)

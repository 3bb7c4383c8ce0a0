package caddyauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/internal/policy"
	"github.com/caddyauth/gateway/internal/session"
)

func init() {
	caddy.RegisterModule(&Protect{})
}

// Protect requires a valid session for every request it handles and serves
// the portal under its base path. On success it sets the identity headers
// and the {http.auth.user.*} placeholders and calls the next handler.
type Protect struct {
	// Base is the portal base path served by this handler (default /auth).
	Base string `json:"base,omitempty"`
	// Portal is an external portal URL anonymous browsers are sent to
	// (e.g. https://auth.example.com/auth).
	Portal string `json:"portal,omitempty"`
	// Allow and Deny restrict which signed-in users pass.
	Allow []policy.Rule `json:"allow,omitempty"`
	Deny  []policy.Rule `json:"deny,omitempty"`
	// Public paths need no session ("/health", "/static/*").
	Public []string `json:"public,omitempty"`
	// Headers override or add identity headers sent upstream.
	Headers []flows.HeaderTemplate `json:"headers,omitempty"`
	// RequireMFA (`require mfa`) admits only sessions that passed a
	// second factor; others are sent to step up.
	RequireMFA bool `json:"require_mfa,omitempty"`
	// RequireVerifiedEmail (`require verified_email`) admits only users
	// whose email address is verified.
	RequireVerifiedEmail bool `json:"require_verified_email,omitempty"`
	// Assertion (`assertion [header <name>]`) adds a short-lived signed
	// identity JWT, verifiable with the portal's JWKS, to every request
	// that passes.
	Assertion *flows.AssertionConfig `json:"assertion,omitempty"`
	// MatchRaw limits protection to matching requests (`protect /admin*`).
	// It is evaluated inside the handler, not as a route matcher, so that
	// identity headers are stripped from every request, protected or not:
	// a spoofed Remote-User on an unprotected path must not reach the app.
	MatchRaw caddyhttp.RawMatcherSets `json:"match,omitempty" caddy:"namespace=http.matchers"`

	guard    *flows.Guard
	base     string
	matchers caddyhttp.MatcherSets
}

// CaddyModule returns the Caddy module information.
func (*Protect) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.protect", New: func() caddy.Module { return new(Protect) }}
}

// Provision judges the config, then compiles the guard against the shared
// app.
func (p *Protect) Provision(ctx caddy.Context) error {
	if err := p.Validate(); err != nil {
		return err
	}
	app, err := appFrom(ctx)
	if err != nil {
		return err
	}
	if err := app.checkCookieTransport(ctx, "protect"); err != nil {
		return err
	}
	if p.Base == "" {
		p.Base = "/auth"
	}
	if p.Portal != "" {
		if p.Portal, err = portalURL(p.Portal); err != nil {
			return err
		}
	}
	g, err := app.service.NewGuard(flows.GuardConfig{
		Base:                 p.Base,
		PortalURL:            p.Portal,
		Policy:               policy.Policy{Allow: p.Allow, Deny: p.Deny},
		Public:               p.Public,
		Headers:              p.Headers,
		RequireMFA:           p.RequireMFA,
		RequireVerifiedEmail: p.RequireVerifiedEmail,
		Assertion:            p.Assertion,
	})
	if err != nil {
		return err
	}
	p.guard = g
	p.base = flows.CleanBase(p.Base)
	app.registerBase(p.base)
	if p.MatchRaw != nil {
		mods, err := ctx.LoadModule(p, "MatchRaw")
		if err != nil {
			return fmt.Errorf("protect: loading matchers: %w", err)
		}
		if err := p.matchers.FromInterface(mods); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the base and the portal URL shape, reporting both; the
// rules, public paths and headers are judged by flows.NewGuard.
func (p *Protect) Validate() error {
	errs := []error{checkBase("protect", p.Base)}
	if p.Portal != "" {
		_, err := portalURL(p.Portal)
		errs = append(errs, err)
	}
	if p.Assertion != nil {
		errs = append(errs, flows.CheckAssertionHeader(p.Assertion.Header))
	}
	return errors.Join(errs...)
}

// portalURL checks an external portal URL and gives a bare host the default
// base: "https://auth.example.com" means its portal at /auth, which is
// where `auth_portal` serves it unless told otherwise.
func portalURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errPortalURL
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/auth"
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (p *Protect) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if p.matchers != nil && !flows.InBase(p.base, r.URL.Path) {
		match, err := p.matchers.AnyMatchWithError(r)
		if err != nil {
			return caddyhttp.Error(http.StatusBadRequest, err)
		}
		// A path the upstream may read with a dot segment
		// ("/x/..;/admin" for a Servlet container, "/x/..%5cadmin" for
		// IIS) is protected whatever the matcher says: the matcher does
		// not see the path the upstream will serve.
		if !match && flows.PlainRequestPath(r.URL) {
			p.unmatched(r)
			return next.ServeHTTP(w, r)
		}
	}
	// A protect earlier in this request (site-wide, then a stricter one
	// for a path) already admitted an identity and removed the cookie.
	prior, _ := caddyhttp.GetVar(r.Context(), identityVar).(*session.Identity)
	if prior == nil {
		// An earlier protect whose matcher this request missed removed
		// the gateway's cookies; this one looks the session up itself.
		if lines, ok := caddyhttp.GetVar(r.Context(), cookieVar).([]string); ok {
			r.Header["Cookie"] = lines
		}
	}
	id, outcome := p.guard.CheckAfter(w, r, prior)
	switch outcome {
	case flows.Authenticated:
		caddyhttp.SetVar(r.Context(), identityVar, id)
		caddyhttp.SetVar(r.Context(), guardVar, p.guard)
		if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
			// One lazy provider instead of five eager Sets: most
			// requests never read a placeholder.
			repl.Map(func(key string) (any, bool) {
				field, ok := strings.CutPrefix(key, flows.PlaceholderPrefix)
				if !ok {
					return nil, false
				}
				switch field {
				case flows.FieldID, flows.FieldEmail, flows.FieldName, flows.FieldGroups, flows.FieldMethod:
					return flows.IdentityField(id, field), true
				case flows.FieldMFA:
					return id.Session.MFAMethod, true
				}
				return nil, false
			})
		}
		return next.ServeHTTP(w, r)
	case flows.Public:
		if id != nil {
			// For a stricter protect later in this request; no
			// headers here (guardVar stays unset).
			caddyhttp.SetVar(r.Context(), identityVar, id)
		}
		return next.ServeHTTP(w, r)
	}
	return nil
}

// unmatched prepares a request outside the matcher for the next handler
// (issue 9, item 1): client copies of this guard's identity headers and
// the gateway's credentials (session and trusted-device cookies, trust
// header) never pass, nor a Connection line naming an identity header;
// the headers a protect earlier in this request set (site-wide, this one
// being the stricter one for a path) stay. When it removes a gateway
// cookie before any protect looked at it, it keeps the client's Cookie
// lines for a later protect of the request (a site-wide one written after
// this one), which puts them back to find the session itself.
func (p *Protect) unmatched(r *http.Request) {
	prior, _ := caddyhttp.GetVar(r.Context(), identityVar).(*session.Identity)
	earlier, _ := caddyhttp.GetVar(r.Context(), guardVar).(*flows.Guard)
	lines := r.Header["Cookie"]
	if p.guard.Unmatched(r.Header, prior, earlier) && prior == nil {
		if _, kept := caddyhttp.GetVar(r.Context(), cookieVar).([]string); !kept {
			caddyhttp.SetVar(r.Context(), cookieVar, lines)
		}
	}
}

// cookieVar holds the client's Cookie lines that a protect removed the
// gateway's cookies from outside its matcher, for a later protect of the
// same request. Nothing logs it; it never goes upstream.
const cookieVar = "caddyauth.cookie"

// identityVar carries the admitted identity between protect handlers of
// one request (Caddy's per-request vars: no extra allocation).
const identityVar = "caddyauth.identity"

// guardVar is the guard that set the identity headers of identityVar (the
// last protect that admitted the request).
const guardVar = "caddyauth.guard"

// Interface guards.
var (
	_ caddy.Provisioner           = (*Protect)(nil)
	_ caddy.Validator             = (*Protect)(nil)
	_ caddyhttp.MiddlewareHandler = (*Protect)(nil)
)

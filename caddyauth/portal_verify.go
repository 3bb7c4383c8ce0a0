package caddyauth

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/internal/policy"
)

// VerifyLine is one `verify <host>[:<port>][/<prefix>] { ... }` line of
// auth_portal: the host admitted to GET <base>/verify and its rules, the
// options of protect (contract).
type VerifyLine struct {
	// Site is "<host>[:<port>][/<path prefix>]".
	Site string `json:"site"`
	// Portal is where browsers sign in (default: this portal as the
	// verify request addressed it).
	Portal     string                 `json:"portal,omitempty"`
	Allow      []policy.Rule          `json:"allow,omitempty"`
	Deny       []policy.Rule          `json:"deny,omitempty"`
	Public     []string               `json:"public,omitempty"`
	Headers    []flows.HeaderTemplate `json:"headers,omitempty"`
	RequireMFA bool                   `json:"require_mfa,omitempty"`
	Assertion  *flows.AssertionConfig `json:"assertion,omitempty"`
	// RequireVerifiedEmail is `require verified_email`.
	RequireVerifiedEmail bool `json:"require_verified_email,omitempty"`
}

// parseVerifyLine parses the rest of a `verify` line inside auth_portal's
// block: the site, then an optional block of protect's options (`base` is
// the portal's own, so not among them).
func parseVerifyLine(h httpcaddyfile.Helper) (VerifyLine, error) {
	// The line's tokens without the site are a protect directive to
	// protect's own parser: one parser, one set of options.
	seg := h.NewFromNextSegment()
	var toks []caddyfile.Token
	for seg.Next() {
		toks = append(toks, seg.Token())
	}
	if len(toks) < 2 || toks[1].Text == "{" {
		return VerifyLine{}, h.Err("auth_portal: verify takes one <host>[:<port>][/<path prefix>] and an optional block")
	}
	site := toks[1].Text
	if _, _, _, err := flows.ParseVerifySite(site); err != nil {
		return VerifyLine{}, h.Errf("auth_portal: %v", err)
	}
	mh, err := parseProtect(httpcaddyfile.Helper{Dispenser: caddyfile.NewDispenser(append(toks[:1:1], toks[2:]...))})
	if err != nil {
		return VerifyLine{}, err
	}
	p := mh.(*Protect)
	if p.Base != "" {
		return VerifyLine{}, h.Err("auth_portal: verify: `base` is the portal's (auth_portal <base>), not a verify option")
	}
	return VerifyLine{
		Site: site, Portal: p.Portal, Allow: p.Allow, Deny: p.Deny, Public: p.Public,
		Headers: p.Headers, RequireMFA: p.RequireMFA, Assertion: p.Assertion,
		RequireVerifiedEmail: p.RequireVerifiedEmail,
	}, nil
}

// verifier compiles the portal's verify lines.
func (p *Portal) verifier(app *App) (*flows.Verifier, error) {
	rules := make([]flows.VerifyRule, 0, len(p.Verify))
	for _, l := range p.Verify {
		portal := l.Portal
		if portal != "" {
			var err error
			if portal, err = portalURL(portal); err != nil {
				return nil, err
			}
		}
		if l.Assertion != nil {
			if err := flows.CheckAssertionHeader(l.Assertion.Header); err != nil {
				return nil, err
			}
		}
		rules = append(rules, flows.VerifyRule{Site: l.Site, Guard: flows.GuardConfig{
			PortalURL:            portal,
			Policy:               policy.Policy{Allow: l.Allow, Deny: l.Deny},
			Public:               l.Public,
			Headers:              l.Headers,
			RequireMFA:           l.RequireMFA,
			Assertion:            l.Assertion,
			RequireVerifiedEmail: l.RequireVerifiedEmail,
		}})
	}
	return app.service.NewVerifier(p.base, rules)
}

// trustedForwarder reports whether Caddy found r's peer among the server's
// trusted_proxies: only then does /auth/verify believe X-Forwarded-* and
// X-Original-URL.
func trustedForwarder(r *http.Request) bool {
	v, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	return v
}

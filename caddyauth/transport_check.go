package caddyauth

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// checkCookieTransport refuses `protect` or `auth_portal` (directive) on an
// HTTP server that serves only plain http while the session cookie is
// Secure: browsers drop a Secure (and __Host-) cookie set over plain http,
// so every login would silently loop back to the login page (issue 9).
//
// A server serves TLS when automatic HTTPS or the config gave it TLS
// connection policies; Caddy has applied those before it provisions the
// server's handlers, and it hands each handler its server in the context.
// A plain-http server behind a proxy that terminates TLS is fine (browsers
// see https): operators declare that proxy in `trusted_proxies`, which
// this check accepts.
func (a *App) checkCookieTransport(ctx caddy.Context, directive string) error {
	if a.Cookie != nil && a.Cookie.Insecure {
		return nil
	}
	srv, ok := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	if !ok || srv == nil || len(srv.TLSConnPolicies) > 0 || hasTrustedProxies(srv) {
		return nil
	}
	return fmt.Errorf("%s: server %s (%slistening on %s) serves plain http, but the session cookie is Secure (%s): browsers drop it there and every login loops back to the login page; serve the site over https (a site address without http:// or a port-only address), or for local development add `cookie { insecure }` to the caddyauth global option; behind a proxy that terminates TLS, list the proxy in `trusted_proxies` (servers global option)",
		directive, srv.Name(), siteHosts(srv), strings.Join(srv.Listen, ", "), a.service.CookieName())
}

// siteHosts names the hosts of srv's sites ("localhost; "), from the host
// matchers of its top-level routes (matchers are provisioned by then).
func siteHosts(srv *caddyhttp.Server) string {
	var hosts []string
	for _, r := range srv.Routes {
		for _, set := range r.MatcherSets {
			for _, m := range set {
				if h, ok := m.(*caddyhttp.MatchHost); ok {
					hosts = append(hosts, *h...)
				}
			}
		}
	}
	if len(hosts) == 0 {
		return ""
	}
	return strings.Join(hosts, ", ") + "; "
}

// hasTrustedProxies reports whether srv has trusted_proxies. Caddy loads
// them into an unexported field and clears the raw JSON before handlers
// are provisioned, so the field is read by reflection (only whether it is
// set). TestCookieTransport pins this: a Caddy upgrade that renames the
// field fails it. When the field cannot be found the answer is true: this
// check only prevents a login loop, the cookie stays Secure either way.
func hasTrustedProxies(srv *caddyhttp.Server) bool {
	if srv.TrustedProxiesRaw != nil {
		return true
	}
	f := reflect.ValueOf(srv).Elem().FieldByName("trustedProxies")
	if !f.IsValid() || f.Kind() != reflect.Interface {
		return true
	}
	return !f.IsNil()
}

package flows

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/store"
)

// VerifyRule is one `verify <host>[:<port>][/<prefix>] { ... }` line of an
// auth_portal: the rules for requests to that host (and path prefix) that
// another proxy asks GET <base>/verify about.
type VerifyRule struct {
	// Site is "<host>[:<port>][/<prefix>]" as written.
	Site string
	// Guard holds the protect options of the line (policy, public paths,
	// headers, require mfa, assertion, portal). Its Base is the portal's.
	Guard GuardConfig
}

// VerifyHeader carries the sign-in URL on a 401 answered to a browser, for
// nginx's error_page (auth_request cannot pass a 302 on).
const VerifyHeader = "X-Auth-Redirect"

// Verifier answers GET <base>/verify, forward-auth for nginx auth_request,
// Traefik ForwardAuth and Caddy's forward_auth: the one Guard.Decide,
// answered in their dialect.
type Verifier struct {
	s     *Service
	base  string
	rules []verifyRule // most specific first (see NewVerifier)
}

type verifyRule struct {
	host, port, prefix string
	g                  *Guard
}

// NewVerifier compiles an auth_portal's verify lines. A host with no line
// is refused; a request matches the line of its host with its port (a line
// without a port matches any), and of those the longest prefix wins.
func (s *Service) NewVerifier(base string, rules []VerifyRule) (*Verifier, error) {
	v := &Verifier{s: s, base: CleanBase(base)}
	seen := map[string]bool{}
	var hosts []string
	for _, r := range rules {
		host, port, prefix, err := ParseVerifySite(r.Site)
		if err != nil {
			return nil, err
		}
		key := host + ":" + port + prefix
		if seen[key] {
			return nil, fmt.Errorf("verify %s: a second line for the same host and prefix", r.Site)
		}
		seen[key] = true
		cfg := r.Guard
		cfg.Base = v.base
		g, err := s.NewGuard(cfg)
		if err != nil {
			return nil, fmt.Errorf("verify %s: %w", r.Site, err)
		}
		v.rules = append(v.rules, verifyRule{host: host, port: port, prefix: prefix, g: g})
		if port != "" {
			hosts = append(hosts, host+":"+port)
		} else {
			hosts = append(hosts, host)
		}
	}
	sort.SliceStable(v.rules, func(i, j int) bool {
		a, b := v.rules[i], v.rules[j]
		if (a.port != "") != (b.port != "") {
			return a.port != ""
		}
		return len(a.prefix) > len(b.prefix)
	})
	// The sign-in page sends the browser back to a verified host.
	if err := s.admitRedirectHosts(hosts); err != nil {
		return nil, err
	}
	return v, nil
}

// ParseVerifySite splits "<host>[:<port>][/<prefix>]": the host in lower
// case, the port ("" for any) and the prefix ("" for the whole host; no
// trailing slash, no dot segment).
func ParseVerifySite(site string) (host, port, prefix string, err error) {
	hp, rest, hasPath := strings.Cut(site, "/")
	if hasPath {
		prefix = "/" + strings.TrimRight(rest, "/")
		if prefix == "/" {
			prefix = ""
		}
		if prefix != "" && (path.Clean(prefix) != prefix || strings.ContainsAny(prefix, "*?#;\\%") || !plainPath(prefix)) {
			return "", "", "", fmt.Errorf("verify %q: the path prefix must be a plain path such as /admin", site)
		}
	}
	if !validHost(hp) || strings.HasPrefix(hp, "[") {
		return "", "", "", fmt.Errorf("verify %q: want <host>[:<port>][/<path prefix>]", site)
	}
	host, port = strings.ToLower(hp), ""
	if h, p, err := net.SplitHostPort(hp); err == nil {
		host, port = strings.ToLower(h), strings.TrimLeft(p, "0")
	}
	return host, port, prefix, nil
}

// rule finds the line for t, or nil (refused).
func (v *Verifier) rule(t *Target) *verifyRule {
	var host, port string
	if h, p, err := net.SplitHostPort(t.Host); err == nil {
		host, port = h, strings.TrimLeft(p, "0")
	} else if t.Scheme == "http" {
		host, port = t.Host, "80"
	} else {
		host, port = t.Host, "443"
	}
	if port == "" {
		port = "443"
	}
	host = strings.TrimSuffix(host, ".")
	// A prefix chooses among lines only on a path every upstream reads
	// the same way: "/api/..;/admin" is "/admin" to a Servlet container,
	// so such a path gets the host-wide line, and only when the host has
	// no prefix lines at all.
	plain := PlainRequestPath(t.URL)
	p := path.Clean("/" + t.URL.Path)
	var hostWide *verifyRule
	prefixed := false
	for i := range v.rules {
		r := &v.rules[i]
		if r.host != host || r.port != "" && r.port != port {
			continue
		}
		if r.prefix == "" {
			if hostWide == nil {
				hostWide = r
			}
			continue
		}
		prefixed = true
		if plain && (p == r.prefix || strings.HasPrefix(p, r.prefix+"/")) {
			return r
		}
	}
	if !plain && prefixed {
		return nil
	}
	return hostWide
}

var (
	errVerifyForwarded = invalidInput("The forwarded request headers do not describe one request.")
	errVerifyHost      = apiErr(http.StatusForbidden, CodeForbidden, "This host is not protected by this gateway.")
	errVerifyLimited   = apiErr(http.StatusTooManyRequests, CodeRateLimited, "Too many requests. Wait a moment and try again.")
)

// ServeHTTP answers one verify request. Any method: nginx's subrequest
// keeps the original one.
func (v *Verifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if !v.allowed(w, r) {
		return
	}
	t, dia, err := v.target(r)
	if err != nil {
		v.s.failJSON(w, r, errVerifyForwarded)
		return
	}
	rule := v.rule(&t)
	if rule == nil {
		v.s.obs.Decision("forbidden")
		v.s.failJSON(w, r, errVerifyHost)
		return
	}
	g := rule.g
	d := g.Decide(r.Context(), t, nil)
	switch d.Verdict {
	case VerdictPublic:
		v.s.obs.Decision("public")
		w.WriteHeader(http.StatusOK)
	case VerdictAllow:
		g.setIdentityHeaders(h, d.Identity)
		if name, tok := g.Assertion(&d); name != "" {
			h.Set(name, tok)
		}
		v.s.obs.Decision("allow")
		w.WriteHeader(http.StatusOK)
	case VerdictUnavailable:
		v.s.obs.Decision("error")
		v.s.storeFailure(w, r, "verify", d.Cause)
	case VerdictForbidden:
		v.s.obs.Decision("forbidden")
		v.s.failJSON(w, r, d.Err)
	default: // anonymous, stage, step-up, password change, unverified
		if !t.browserNavigation() {
			switch d.Verdict {
			case VerdictStepUp:
				v.s.obs.Decision("step_up")
			case VerdictPasswordChange:
				v.s.obs.Decision("password_change")
			case VerdictUnverified:
				v.s.obs.Decision("forbidden")
			default:
				v.s.obs.Decision("unauthenticated")
			}
			v.s.failJSON(w, r, d.Err)
			return
		}
		next := v.redirect(r, &d, rule)
		v.s.obs.Decision("redirect")
		if dia == dialectNginx {
			h.Set(VerifyHeader, next)
			v.s.failJSON(w, r, d.Err)
			return
		}
		http.Redirect(w, r, next, http.StatusFound)
	}
}

// target is the request to judge: the one the proxy describes when the
// verify request comes from one of Caddy's trusted proxies, else the verify
// request itself (so a client calling /auth/verify directly cannot name a
// laxer host).
func (v *Verifier) target(r *http.Request) (Target, dialect, error) {
	if v.s.cfg.TrustedForwarder != nil && v.s.cfg.TrustedForwarder(r) {
		t, dia, ok, err := forwardedTarget(r.Header)
		if err != nil {
			return t, 0, err
		}
		if ok {
			t.verified = true
			return t, dia, nil
		}
	}
	t := TargetOf(r)
	t.Host = strings.ToLower(t.Host)
	t.verified = true
	return t, dialectRedirect, nil
}

// redirect is where a browser goes: the portal's sign-in (or MFA) page,
// absolute, with the original absolute URL as the way back. The portal is
// the line's `portal`, else this verify endpoint's own origin.
func (v *Verifier) redirect(r *http.Request, d *Decision, rule *verifyRule) string {
	portal := rule.g.cfg.PortalURL
	if portal == "" {
		portal = d.t.Scheme + "://" + r.Host + v.base
	}
	back := url.QueryEscape(d.t.absoluteURI())
	switch d.Verdict {
	case VerdictPasswordChange:
		return portal + "/change-password"
	case VerdictUnverified:
		return portal + "/verify-email"
	case VerdictStepUp:
		return portal + "/mfa/challenge?rd=" + back
	case VerdictStage:
		if d.pending == store.PendingEnrol {
			return portal + "/mfa/setup?rd=" + back
		}
		return portal + "/mfa/challenge?rd=" + back
	}
	return portal + "/login?rd=" + back
}

// allowed spends one verify from the client's bucket (in-process: the
// verify path makes no network call), or answers 429.
func (v *Verifier) allowed(w http.ResponseWriter, r *http.Request) bool {
	lim := v.s.limits.verify
	if lim == nil {
		return true
	}
	ok, wait, err := lim.Allow(r.Context(), ratelimit.AddressKey(v.s.cfg.ClientIP(r)), v.s.cfg.Now())
	if err != nil {
		v.s.storeFailure(w, r, "rate limit", err)
		return false
	}
	if !ok {
		v.s.obs.Limited("verify_client")
		retryAfter(w, wait)
		v.s.failJSON(w, r, errVerifyLimited)
		return false
	}
	return true
}

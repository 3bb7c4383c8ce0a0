package flows

import (
	"context"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"strings"

	"github.com/caddyauth/gateway/internal/policy"
	"github.com/caddyauth/gateway/internal/session"
)

// GuardConfig is one `protect` block.
type GuardConfig struct {
	// Base is the portal base path this guard also serves ("/auth").
	Base string
	// PortalURL, when set, is an external portal ("https://auth.example.com/auth")
	// that anonymous browsers are sent to instead of Base.
	PortalURL string
	Policy    policy.Policy
	// Public paths need no session: exact ("/health") or prefix ("/static/*").
	Public []string
	// Headers override or extend DefaultHeaders by name.
	Headers []HeaderTemplate
	// RequireMFA refuses sessions that did not pass a second factor and
	// sends browsers to step up.
	RequireMFA bool
	// RequireVerifiedEmail refuses users whose email is not verified
	// (`require verified_email`); a pending registration is refused
	// whatever this says.
	RequireVerifiedEmail bool
	// Assertion adds a signed identity assertion to every request that
	// passes (guard_assertion.go).
	Assertion *AssertionConfig
}

// AssertionConfig is `assertion [header <name>]`.
type AssertionConfig struct {
	// Header carries the assertion (default Remote-Assertion).
	Header string `json:"header,omitempty"`
}

// Outcome of Guard.Check.
type Outcome int

const (
	// Handled: the guard wrote the response (portal page, redirect, 401,
	// 403, 503). The caller must not call the upstream.
	Handled Outcome = iota
	// Authenticated: identity headers are set; proxy the request.
	Authenticated
	// Public: a public path; proxy without identity headers. The
	// identity returned with it (possibly nil) is only for a later guard
	// of the same request.
	Public
)

// Guard protects one site.
type Guard struct {
	s        *Service
	cfg      GuardConfig
	portal   http.Handler
	headers  []compiledHeader
	strip    []string // normalised names of every identity header
	exact    map[string]bool
	prefixes []string
	// trustKeys are the canonical header keys of the trust token (both
	// spellings), computed once: canonicalising per request allocates.
	trustKeys [2]string
	// assertHeader names the signed assertion's header ("" for none);
	// assertions caches them briefly per session and site.
	assertHeader string
	assertions   memo[assertionKey, signedAssertion]
}

// NewGuard compiles a guard.
func (s *Service) NewGuard(cfg GuardConfig) (*Guard, error) {
	cfg.Base = CleanBase(cfg.Base)
	if cfg.Base == "" {
		return nil, fmt.Errorf("portal base path cannot be /")
	}
	cfg.PortalURL = strings.TrimRight(cfg.PortalURL, "/")
	trustKeys := [2]string{
		textproto.CanonicalMIMEHeaderKey(s.cfg.MFA.TrustHeader),
		textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(s.cfg.MFA.TrustHeader, "_", "-")),
	}
	if err := cfg.Policy.Validate(); err != nil {
		return nil, err
	}
	cfg.RequireVerifiedEmail = cfg.RequireVerifiedEmail || s.cfg.RequireVerifiedEmail
	g := &Guard{s: s, cfg: cfg, portal: s.Portal(cfg.Base), exact: map[string]bool{}, trustKeys: trustKeys}
	for _, p := range cfg.Public {
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("public path %q must start with /", p)
		}
		if pre, ok := strings.CutSuffix(p, "*"); ok {
			if strings.Contains(pre, "*") {
				return nil, fmt.Errorf("public path %q: only a trailing * is supported", p)
			}
			g.prefixes = append(g.prefixes, pre)
		} else if strings.Contains(p, "*") {
			return nil, fmt.Errorf("public path %q: only a trailing * is supported", p)
		} else {
			g.exact[p] = true
		}
	}
	merged := append([]HeaderTemplate(nil), DefaultHeaders...)
	for _, h := range cfg.Headers {
		if !validHeaderName(h.Name) {
			return nil, fmt.Errorf("invalid header name %q", h.Name)
		}
		replaced := false
		for i := range merged {
			if strings.EqualFold(merged[i].Name, h.Name) {
				merged[i].Template, replaced = h.Template, true
			}
		}
		if !replaced {
			merged = append(merged, h)
		}
	}
	for _, h := range merged {
		g.strip = append(g.strip, normHeader(h.Name))
		if h.Template == "" {
			continue
		}
		parts, err := compileTemplate(h.Template)
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", h.Name, err)
		}
		g.headers = append(g.headers, compiledHeader{name: textproto.CanonicalMIMEHeaderKey(h.Name), parts: parts})
	}
	if err := g.compileAssertion(cfg.Assertion); err != nil {
		return nil, err
	}
	return g, nil
}

// Check runs the guard for one request. It always strips client-sent
// identity headers first.
func (g *Guard) Check(w http.ResponseWriter, r *http.Request) (*session.Identity, Outcome) {
	return g.CheckAfter(w, r, nil)
}

// CheckAfter is Check for a request that an earlier guard of the same
// service already admitted as prior (a site-wide protect followed by a
// stricter one for /admin*): that guard removed the session cookie, so
// this one applies its own rules to prior instead of looking it up.
func (g *Guard) CheckAfter(w http.ResponseWriter, r *http.Request, prior *session.Identity) (*session.Identity, Outcome) {
	g.StripIdentityHeaders(r.Header)
	g.scrubConnection(r.Header)
	d := g.Decide(r.Context(), TargetOf(r), prior)
	return g.answer(w, r, &d)
}

// answer writes d as `protect` does: the portal on its paths; identity
// headers in and the gateway's credentials out for a request that passes;
// otherwise a redirect for a browser navigation and JSON for the rest.
// Each verdict is counted once in the decision metric here.
func (g *Guard) answer(w http.ResponseWriter, r *http.Request, d *Decision) (*session.Identity, Outcome) {
	if d.Verdict == VerdictPortal {
		g.portal.ServeHTTP(w, r)
		return nil, Handled
	}
	g.s.hsts(w, r)
	g.dropTrustHeader(r.Header)
	switch d.Verdict {
	case VerdictPublic:
		// The identity is only for a stricter guard later in this
		// request; a public path gets no identity headers.
		g.dropSessionCookie(r.Header)
		g.dropBearer(r.Header, d.Source)
		g.s.obs.Decision("public")
		return d.Identity, Public
	case VerdictAllow:
		g.setIdentityHeaders(r.Header, d.Identity)
		g.setAssertion(r.Header, d)
		g.dropSessionCookie(r.Header)
		g.dropBearer(r.Header, d.Source)
		g.s.obs.Decision("allow")
		return d.Identity, Authenticated
	case VerdictUnavailable:
		// Fail closed, and never redirect to login: the login would
		// fail the same way and the browser would loop.
		g.s.obs.Decision("error")
		g.s.storeFailure(w, g.withBase(r), "protect", d.Cause)
	case VerdictForbidden:
		g.s.obs.Decision("forbidden")
		g.s.writeError(w, g.withBase(r), d.Err)
	case VerdictAnonymous:
		// Browsers navigating with GET go to the login page; everything
		// else (APIs, form posts, XHR) gets 401 JSON.
		if d.t.browserNavigation() {
			g.s.obs.Decision("redirect")
			redirectNoStore(w, r, d.Redirect())
			break
		}
		g.s.obs.Decision("unauthenticated")
		g.s.failJSON(w, r, d.Err)
	case VerdictStage:
		// Browsers go back to the MFA page, others get 401 MFA_REQUIRED.
		g.s.obs.Decision("unauthenticated")
		if d.t.browserNavigation() {
			redirectNoStore(w, r, d.Redirect())
			break
		}
		g.s.failJSON(w, r, d.Err)
	case VerdictUnverified:
		// Browsers go to "check your mail"; others get 403
		// EMAIL_NOT_VERIFIED.
		g.s.obs.Decision("forbidden")
		if d.t.browserNavigation() {
			redirectNoStore(w, r, d.Redirect())
			break
		}
		g.s.writeError(w, g.withBase(r), d.Err)
	case VerdictPasswordChange:
		// Browsers go to change-password; others get 403
		// PASSWORD_CHANGE_REQUIRED.
		g.s.obs.Decision("password_change")
		if d.t.browserNavigation() {
			redirectNoStore(w, r, d.Redirect())
			break
		}
		g.s.writeError(w, g.withBase(r), d.Err)
	case VerdictStepUp:
		// Browsers go to the challenge (or enrolment) page and come
		// back; others get 403 MFA_REQUIRED.
		g.s.obs.Decision("step_up")
		if d.t.browserNavigation() {
			redirectNoStore(w, r, d.Redirect())
			break
		}
		g.s.writeError(w, g.withBase(r), d.Err)
	}
	return nil, Handled
}

// redirectNoStore sends a browser to a sign-in step; no cache may keep
// the answer, which depends on the cookie.
func redirectNoStore(w http.ResponseWriter, r *http.Request, target string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

// dropTrustHeader keeps the trusted-device token (a credential of the
// gateway, like the session cookie) away from upstreams and access logs.
func (g *Guard) dropTrustHeader(h http.Header) {
	if len(h) == 0 {
		return
	}
	delete(h, g.trustKeys[0])
	delete(h, g.trustKeys[1])
}

// dropSessionCookie removes the gateway's session cookie from the request
// before it goes upstream: the app learns who the user is from the identity
// headers and has no use for the token, and an app (or its logs) that never
// sees it cannot replay it. Other cookies pass untouched. It reports
// whether it removed one.
func (g *Guard) dropSessionCookie(h http.Header) bool {
	lines := h["Cookie"]
	if len(lines) == 0 {
		return false
	}
	// The session cookie and the trusted-device cookie: both are the
	// gateway's credentials, neither is the app's business.
	name, trust := g.s.cfg.Cookie.Name, g.s.cfg.MFA.TrustCookie
	found := false
	for _, l := range lines {
		if strings.Contains(l, name) || strings.Contains(l, trust) {
			found = true
			break
		}
	}
	if !found {
		return false
	}
	// Rebuild into one buffer sized for the common single Cookie line.
	n := 0
	for _, l := range lines {
		n += len(l) + 2
	}
	var buf strings.Builder
	buf.Grow(n)
	for _, l := range lines {
		for len(l) > 0 {
			var part string
			part, l, _ = strings.Cut(l, ";")
			part = strings.TrimSpace(part)
			if part == "" || isCookie(part, name) || isCookie(part, trust) {
				continue
			}
			if buf.Len() > 0 {
				buf.WriteString("; ")
			}
			buf.WriteString(part)
		}
	}
	if buf.Len() == 0 {
		delete(h, "Cookie")
		return true
	}
	h["Cookie"] = []string{buf.String()}
	return true
}

// isCookie reports whether the cookie-pair part is named name.
func isCookie(part, name string) bool {
	return len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name
}

func (g *Guard) withBase(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), baseKey{}, g.cfg.Base))
}

// isPublic matches the cleaned path only; a path that cleaning changes
// ("/public/../admin", "//x") is never public, so dot segments and doubled
// slashes cannot widen a rule. Nor is a path that some upstream reads as
// having a dot segment ("/public/..;/admin", "/public/..%5Cadmin"): see
// plainPath, which judges the decoded and the raw (escaped) path.
func (g *Guard) isPublic(u *url.URL) bool {
	if len(g.exact) == 0 && len(g.prefixes) == 0 {
		return false
	}
	p := u.Path
	if p == "" || path.Clean(p) != p && path.Clean(p)+"/" != p {
		return false
	}
	if !g.exact[p] && !g.hasPublicPrefix(p) {
		return false
	}
	return PlainRequestPath(u)
}

func (g *Guard) hasPublicPrefix(p string) bool {
	for _, pre := range g.prefixes {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}

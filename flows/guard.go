package flows

import (
	"context"
	"fmt"
	"github.com/caddyauth/gateway/store"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"strings"

	"github.com/caddyauth/gateway/internal/policy"
	"github.com/caddyauth/gateway/internal/session"
)

// Default identity headers (contract).
var DefaultHeaders = []HeaderTemplate{
	{Name: "Remote-User", Template: "{http.auth.user.id}"},
	{Name: "Remote-Email", Template: "{http.auth.user.email}"},
	{Name: "Remote-Name", Template: "{http.auth.user.name}"},
	{Name: "Remote-Groups", Template: "{http.auth.user.groups}"},
}

// HeaderTemplate sets one upstream header from the identity. Template may
// use {http.auth.user.id|email|name|groups}; an empty template removes a
// default header.
type HeaderTemplate struct {
	Name     string `json:"name"`
	Template string `json:"template"`
}

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
}

type compiledHeader struct {
	name  string
	parts []headerPart
}

type headerPart struct {
	lit   string
	field string // "", id, email, name, groups
}

// NewGuard compiles a guard.
func (s *Service) NewGuard(cfg GuardConfig) (*Guard, error) {
	cfg.Base = CleanBase(cfg.Base)
	if cfg.Base == "" {
		return nil, fmt.Errorf("portal base path cannot be /")
	}
	cfg.PortalURL = strings.TrimRight(cfg.PortalURL, "/")
	trustKeys := [2]string{textproto.CanonicalMIMEHeaderKey(s.cfg.MFA.TrustHeader),
		textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(s.cfg.MFA.TrustHeader, "_", "-"))}
	if err := cfg.Policy.Validate(); err != nil {
		return nil, err
	}
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
	if InBase(g.cfg.Base, r.URL.Path) {
		g.portal.ServeHTTP(w, r)
		return nil, Handled
	}
	g.s.hsts(w, r)
	g.dropTrustHeader(r.Header)
	if g.isPublic(r.URL) {
		// Who is signed in, if anyone, for a stricter guard later in
		// this request (`protect /docs/admin*` after a site-wide
		// `public /docs/*`): this one is about to remove the cookie.
		// A public path never fails on it, and gets no identity headers.
		who := prior
		if who == nil && len(r.Header["Cookie"]) > 0 {
			who, _, _ = g.s.identify(r)
		}
		g.dropSessionCookie(r.Header)
		g.s.obs.Decision("public")
		return who, Public
	}
	id, saw, err := prior, true, error(nil)
	if id == nil {
		id, saw, err = g.s.identify(r)
	}
	if err != nil {
		// Fail closed, and never redirect to login: the login would
		// fail the same way and the browser would loop.
		g.s.obs.Decision("error")
		g.s.storeFailure(w, g.withBase(r), "protect", err)
		return nil, Handled
	}
	if id == nil {
		if saw && g.inStage(w, r) {
			return nil, Handled
		}
		g.anonymous(w, r, saw)
		return nil, Handled
	}
	if !g.cfg.Policy.Allowed(&id.User) {
		g.s.obs.Decision("forbidden")
		g.s.writeError(w, g.withBase(r), errForbidden)
		return nil, Handled
	}
	if g.cfg.RequireMFA && id.Session.MFAMethod == "" {
		g.stepUp(w, r)
		return nil, Handled
	}
	g.setIdentityHeaders(r.Header, id)
	g.dropSessionCookie(r.Header)
	g.s.obs.Decision("allow")
	return id, Authenticated
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

// anonymous: browsers navigating with GET go to the login page; everything
// else (APIs, form posts, XHR) gets 401 JSON.
func (g *Guard) anonymous(w http.ResponseWriter, r *http.Request, sawCookie bool) {
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && wantsHTML(r) {
		var target string
		if g.cfg.PortalURL != "" {
			target = loginURL(g.cfg.PortalURL, requestScheme(r)+"://"+r.Host+r.URL.RequestURI())
		} else {
			target = loginURL(g.cfg.Base, r.URL.RequestURI())
		}
		w.Header().Set("Cache-Control", "no-store")
		g.s.obs.Decision("redirect")
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	e := unauthenticated(sawCookie)
	g.s.obs.Decision("unauthenticated")
	g.s.obs.Error(e.Code)
	writeJSON(w, http.StatusUnauthorized, e)
}

// inStage answers a request carrying a challenge- or enrolment-stage
// session (only on this failure path is the cookie looked at again):
// browsers go back to the MFA page, others get 401 MFA_REQUIRED.
func (g *Guard) inStage(w http.ResponseWriter, r *http.Request) bool {
	id, _, err := g.s.identifyAny(r)
	if err != nil || id == nil || id.Session.Full() || g.cfg.PortalURL != "" {
		return false
	}
	g.s.obs.Decision("unauthenticated")
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && wantsHTML(r) {
		next := g.cfg.Base + "/mfa/challenge"
		if id.Session.Pending == store.PendingEnrol {
			next = g.cfg.Base + "/mfa/setup"
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, next+"?rd="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
		return true
	}
	g.s.obs.Error(CodeMFARequired)
	writeJSON(w, http.StatusUnauthorized, errMFARequired)
	return true
}

// stepUp answers a password-only session on a `require mfa` site: browsers
// go to the challenge (or enrolment) page and come back; others get 403
// MFA_REQUIRED.
func (g *Guard) stepUp(w http.ResponseWriter, r *http.Request) {
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && wantsHTML(r) {
		var target string
		if g.cfg.PortalURL != "" {
			target = g.cfg.PortalURL + "/mfa/challenge?rd=" + url.QueryEscape(requestScheme(r)+"://"+r.Host+r.URL.RequestURI())
		} else {
			target = g.cfg.Base + "/mfa/challenge?rd=" + url.QueryEscape(r.URL.RequestURI())
		}
		w.Header().Set("Cache-Control", "no-store")
		g.s.obs.Decision("step_up")
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	g.s.obs.Decision("step_up")
	g.s.obs.Error(CodeMFARequired)
	g.s.writeError(w, g.withBase(r), errMFAStepUp)
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

// StripIdentityHeaders deletes every configured identity header in any
// case and with "_" for "-": CGI and PHP turn Remote_User into
// REMOTE_USER, the same variable as Remote-User (GHSA-f59h-q822-g45g).
func (g *Guard) StripIdentityHeaders(h http.Header) {
	for name := range h {
		for _, s := range g.strip {
			if sameHeader(name, s) {
				delete(h, name)
				break
			}
		}
	}
}

func (g *Guard) setIdentityHeaders(h http.Header, id *session.Identity) {
	// One backing array for every header's value slice: this runs on every
	// protected request, so allocations count.
	vals := make([]string, len(g.headers))
	for i, ch := range g.headers {
		if len(ch.parts) == 1 && ch.parts[0].field != "" {
			vals[i] = sanitizeHeaderValue(IdentityField(id, ch.parts[0].field))
		} else {
			var b strings.Builder
			for _, p := range ch.parts {
				if p.field == "" {
					b.WriteString(p.lit)
					continue
				}
				b.WriteString(sanitizeHeaderValue(IdentityField(id, p.field)))
			}
			vals[i] = b.String()
		}
		h[ch.name] = vals[i : i+1 : i+1]
	}
}

// IdentityField returns one identity attribute by placeholder name.
func IdentityField(id *session.Identity, field string) string {
	switch field {
	case "id":
		return id.User.ID
	case "email":
		return id.User.Email
	case "name":
		return id.User.Name
	case "groups":
		return id.Groups()
	}
	return ""
}

func compileTemplate(t string) ([]headerPart, error) {
	var parts []headerPart
	for t != "" {
		i := strings.Index(t, "{http.auth.user.")
		if i < 0 {
			parts = append(parts, headerPart{lit: t})
			break
		}
		if i > 0 {
			parts = append(parts, headerPart{lit: t[:i]})
		}
		end := strings.IndexByte(t[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unterminated placeholder in %q", t)
		}
		field := t[i+len("{http.auth.user.") : i+end]
		switch field {
		case "id", "email", "name", "groups":
		default:
			return nil, fmt.Errorf("unknown placeholder {http.auth.user.%s}", field)
		}
		parts = append(parts, headerPart{field: field})
		t = t[i+end+1:]
	}
	for _, p := range parts {
		if sanitizeHeaderValue(p.lit) != p.lit {
			return nil, fmt.Errorf("control character in template")
		}
	}
	return parts, nil
}

// sanitizeHeaderValue drops control characters so a user's name can never
// split or smuggle a header.
func sanitizeHeaderValue(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return strings.Map(func(r rune) rune {
				if r < 0x20 || r == 0x7f {
					return -1
				}
				return r
			}, v)
		}
	}
	return v
}

// normHeader lower-cases a header name and maps '_' to '-'.
func normHeader(n string) string {
	return strings.ReplaceAll(strings.ToLower(n), "_", "-")
}

// sameHeader compares name with an already normalised header name, treating
// case and '_'/'-' as equal, without allocating.
func sameHeader(name, norm string) bool {
	if len(name) != len(norm) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != norm[i] {
			return false
		}
	}
	return true
}

func validHeaderName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

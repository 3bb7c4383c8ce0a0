package flows

import (
	"context"
	"net/http"
	"strings"

	"github.com/caddyauth/gateway/internal/session"
)

// Portal returns the handler for the portal pages and JSON API under base
// (e.g. "/auth"). Requests outside base get 404.
func (s *Service) Portal(base string) http.Handler { return s.PortalWith(base, nil) }

// PortalWith is Portal answering <base>/verify with v (nil: no verify
// lines, every host refused).
func (s *Service) PortalWith(base string, v *Verifier) http.Handler {
	base = CleanBase(base)
	if v == nil {
		v = &Verifier{s: s, base: base}
	}
	p := &portal{s: s, base: base}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+base+"/login", p.loginPage)
	mux.HandleFunc("POST "+base+"/login", p.login)
	mux.HandleFunc("POST "+base+"/logout", p.logout)
	mux.HandleFunc("POST "+base+"/logout-all", p.logoutAll)
	mux.HandleFunc("GET "+base+"/session", p.withCaller(callerFull, "session", p.whoami))
	mux.HandleFunc("GET "+base+"/sessions", p.withCaller(callerFull, "sessions", p.listSessions))
	mux.HandleFunc("DELETE "+base+"/sessions/{id}", p.withCaller(callerFull, "delete session", p.deleteSession))
	mux.HandleFunc("GET "+base+"/setup", p.setupPage)
	mux.HandleFunc("POST "+base+"/setup", p.setup)
	mux.HandleFunc("GET "+base+"/static/style.css", p.css)
	// Each feature registers its own routes from its own file.
	p.mfaRoutes(mux)
	p.passwordRoutes(mux)
	p.resetRoutes(mux)
	p.passwordlessRoutes(mux)
	p.oauthRoutes(mux)
	p.adminRoutes(mux)
	p.tokenRoutes(mux)
	p.apiKeyRoutes(mux)
	p.registerRoutes(mux)
	p.phoneRoutes(mux)
	p.changeEmailRoutes(mux)
	p.accountRoutes(mux)
	mux.HandleFunc(base+"/", p.notFound)
	mux.HandleFunc(base, p.notFound)

	csrf := http.NewCrossOriginProtection()
	for o := range s.corsOrigins {
		// Canonical (checkCORSOrigins), as the preflight compares them; an
		// allowed origin may post with credentials.
		_ = csrf.AddTrustedOrigin(o)
	}
	p.oauthCSRFBypass(csrf)
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errCrossOrigin)
	}))
	h := csrf.Handler(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), baseKey{}, base))
		if r.URL.Path == base+"/verify" {
			// Before the CSRF check: a proxy's subrequest carries the
			// original request's method and Origin.
			v.ServeHTTP(w, r)
			return
		}
		r = s.takeTrustHeader(r)
		s.securityHeaders(w, r)
		if s.cors(w, r) {
			return
		}
		// A known path with the wrong method falls through to the
		// catch-all; answer 405 in our error format, not 404.
		if _, pattern := mux.Handler(r); (pattern == base+"/" || pattern == base) && knownPath(mux, r, base) {
			s.writeError(w, r, errMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// knownPath reports whether some other method is routed for r's path.
func knownPath(mux *http.ServeMux, r *http.Request, base string) bool {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPut, http.MethodPatch} {
		if m == r.Method {
			continue
		}
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := mux.Handler(probe); pattern != base+"/" && pattern != base {
			return true
		}
	}
	return false
}

// CleanBase normalises a portal base path: leading slash, no trailing one.
func CleanBase(base string) string {
	base = "/" + strings.Trim(base, "/")
	if base == "/" {
		return ""
	}
	return base
}

// InBase reports whether path is served by the portal at base.
func InBase(base, path string) bool {
	return path == base || strings.HasPrefix(path, base) && len(path) > len(base) && path[len(base)] == '/'
}

type portal struct {
	s    *Service
	base string
}

func (p *portal) notFound(w http.ResponseWriter, r *http.Request) {
	p.s.writeError(w, r, errNotFound)
}

// identify returns the request's session identity, nil for anonymous.
// sawCookie tells an expired session from none at all.
// A challenge-stage session is not signed in: only the MFA pages
// (identifyAny) accept it.
func (s *Service) identify(r *http.Request) (id *session.Identity, sawCookie bool, err error) {
	id, _, sawCookie, err = s.findSession(r, false)
	return id, sawCookie, err
}

// identifyAny returns the caller's session at any stage with the token it
// was found under (needed to rotate it).
func (s *Service) identifyAny(r *http.Request) (*session.Identity, string, error) {
	id, tok, _, err := s.findSession(r, true)
	return id, tok, err
}

// findSession is findCaller for a portal request: the caller's live
// identity, the token it was found under, and whether any credential was
// presented.
func (s *Service) findSession(r *http.Request, stages bool) (*session.Identity, string, bool, error) {
	f, err := s.findCaller(r.Context(), r.Header, stages)
	return f.ID, f.Token, f.Presented, err
}

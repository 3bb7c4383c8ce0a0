package flows

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// corsAllowHeaders are the request headers a browser app on an allowed
// origin may send to the portal API. The last is the trusted-device header
// that non-cookie clients send (MFA).
var corsAllowHeaders = "Content-Type, Authorization, X-Access-Token-Type, X-CSRF-Token, nest_auth_device_trust, Nest-Auth-Device-Trust"

// corsMaxAge caches a preflight for 10 minutes.
const corsMaxAge = "600"

// checkCORSOrigins validates the allowlist: exact origins only
// ("https://app.example.com[:port]"); "*" cannot go with credentials.
func checkCORSOrigins(origins []string) (map[string]bool, error) {
	m := map[string]bool{}
	for _, o := range origins {
		if o == "*" || strings.Contains(o, "*") {
			return nil, fmt.Errorf("cors origin %q: wildcards cannot be combined with credentials; list each origin", o)
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
			return nil, fmt.Errorf("cors origin %q: want scheme://host[:port], no path", o)
		}
		m[strings.ToLower(o)] = true
	}
	return m, nil
}

// cors answers preflights and marks allowed cross-origin responses. It
// returns true when it wrote the whole response (a preflight).
func (s *Service) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(s.corsOrigins) == 0 {
		return false
	}
	allowed := s.corsOrigins[strings.ToLower(origin)]
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	h := w.Header()
	h.Add("Vary", "Origin")
	if !allowed {
		if preflight {
			s.writeError(w, r, errCrossOrigin)
			return true
		}
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	if preflight {
		h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

package flows

import (
	"fmt"
	"net/http"
	"strings"
)

// corsAllowHeaders are the request headers a browser app on an allowed
// origin may send to the portal API. The last is the trusted-device header
// that non-cookie clients send (MFA).
var corsAllowHeaders = "Content-Type, Authorization, X-Access-Token-Type, X-CSRF-Token, nest_auth_device_trust, Nest-Auth-Device-Trust"

// corsAllowMethods are the methods the portal and admin API route
// (the admin method switch is PUT).
const corsAllowMethods = "GET, POST, PUT, DELETE"

// corsMaxAge caches a preflight for 10 minutes.
const corsMaxAge = "600"

// checkCORSOrigins validates the allowlist and returns it in canonical
// form (CanonicalOrigin): exact origins only ("https://app.example.com[:port]");
// "*" cannot go with credentials.
func checkCORSOrigins(origins []string) (map[string]bool, error) {
	m := map[string]bool{}
	for _, o := range origins {
		if o == "*" || strings.Contains(o, "*") {
			return nil, fmt.Errorf("cors origin %q: wildcards cannot be combined with credentials; list each origin", o)
		}
		c, err := CanonicalOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("cors origin %q: %w", o, err)
		}
		m[c] = true
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
	// Byte for byte, as the CSRF check compares its trusted origins.
	allowed := s.corsOrigins[origin]
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
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

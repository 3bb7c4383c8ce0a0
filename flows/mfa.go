package flows

import "net/http"

// mfaRoutes registers the MFA endpoints.
func (p *portal) mfaRoutes(mux *http.ServeMux) {}

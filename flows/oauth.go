package flows

import "net/http"

// oauthRoutes registers the OAuth/OIDC endpoints.
func (p *portal) oauthRoutes(mux *http.ServeMux) {}

package flows

import "net/http"

// adminRoutes registers the admin API.
func (p *portal) adminRoutes(mux *http.ServeMux) {}

package flows

import "net/http"

// AccountConfig is the operator's switch for leaving (`account { export
// on|off  delete on|off }`). Both are on by default and independent of
// `registration`: a site that admits nobody new still owes its users
// their data and the way out. Off removes the route: 404 NOT_FOUND, as
// for any path the portal does not serve.
type AccountConfig struct {
	ExportOff bool
	DeleteOff bool
}

// accountRoutes: the account's own data and its deletion (issue 12 item
// 6). Export reads, so a full session is enough; delete confirms with the
// password and a fresh second factor itself (account_delete.go).
func (p *portal) accountRoutes(mux *http.ServeMux) {
	a := p.s.cfg.Account
	if !a.ExportOff {
		mux.HandleFunc("GET "+p.base+"/account/export", p.withCaller(callerFull, "account export", p.exportAccount))
	}
	if !a.DeleteOff {
		mux.HandleFunc("GET "+p.base+"/account/delete", p.withCaller(callerFullPage, "account delete", p.deleteAccountPage))
		mux.HandleFunc("POST "+p.base+"/account/delete", p.withCaller(callerSignedIn, "account delete", p.deleteAccount))
	}
}

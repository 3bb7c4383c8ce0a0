package caddyauth

import "github.com/caddyauth/gateway/internal/methods"

// offeredMethods are the auth methods this configuration has, the only
// ones the runtime switch lists and flips: password, each identity
// provider, and registration when a provider may create accounts.
func (a *App) offeredMethods() []string {
	signup := false
	for _, o := range a.OAuth {
		signup = signup || o.Signup || len(o.AllowedDomains) > 0
	}
	return methods.Offered(signup, a.providerNames()...)
}

package caddyauth

import (
	"slices"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/internal/methods"
)

// offeredMethods are the auth methods this configuration has, the only
// ones the runtime switch lists and flips: password, each identity
// provider, registration when a provider may create accounts, and
// password_reset when the reset flow is on, passwordless when configured.
func (a *App) offeredMethods() []string {
	signup := false
	for _, o := range a.OAuth {
		signup = signup || o.Signup || len(o.AllowedDomains) > 0
	}
	offered := methods.Offered(signup, a.providerNames()...)
	if a.passwordResetOn() {
		offered = append(offered, flows.MethodPasswordReset)
	}
	if a.Passwordless != nil && len(a.Passwordless.Channels) > 0 {
		offered = append(offered, flows.MethodPasswordless)
	}
	if a.Registration != nil && a.Registration.On && !slices.Contains(offered, flows.MethodRegistration) {
		offered = append(offered, flows.MethodRegistration)
	}
	return offered
}

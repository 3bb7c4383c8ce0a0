package caddyauth

import (
	"fmt"
	"time"
)

// maxTrustedDevice is the longest "trust this device" that does not warn:
// NIST SP 800-63B lets a remembered device skip the second factor for at
// most 30 days.
const maxTrustedDevice = 30 * 24 * time.Hour

// configWarnings names the choices that are allowed but weaker than
// recommended, so an operator sees them in the start-up log. They name
// options, never values.
func (a *App) configWarnings() []string {
	var out []string
	for _, s := range []struct{ opt, v string }{{"secret", a.Secret}, {"previous_secret", a.PreviousSecret}} {
		if s.v != "" && !isPlaceholder(s.v) {
			out = append(out, s.opt+" is written in the config: anyone who can read the Caddyfile, its backups or `caddy adapt` output has it; use a placeholder such as {env.CADDYAUTH_SECRET} or {file./run/secrets/caddyauth}, or secret_file")
		}
	}
	if a.MFA != nil && time.Duration(a.MFA.TrustedDevice) > maxTrustedDevice {
		out = append(out, fmt.Sprintf("mfa trusted_device %s is longer than 30 days, the longest NIST SP 800-63B lets a remembered device skip the second factor", time.Duration(a.MFA.TrustedDevice)))
	}
	return out
}

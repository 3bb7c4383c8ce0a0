package caddyauth

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/caddyauth/gateway/internal/session"
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
	if a.Database != nil && a.Database.Driver == "postgres" && literalDSNPassword(a.Database.DSN) {
		out = append(out, "database postgres has a password written in the config: anyone who can read the Caddyfile, its backups or `caddy adapt` output has it; write the DSN (or its password) as a placeholder such as {env.CADDYAUTH_PG_DSN} or {file./run/secrets/pg-dsn}")
	}
	if a.MFA != nil && time.Duration(a.MFA.TrustedDevice) > maxTrustedDevice {
		out = append(out, fmt.Sprintf("mfa trusted_device %s is longer than 30 days, the longest NIST SP 800-63B lets a remembered device skip the second factor", time.Duration(a.MFA.TrustedDevice)))
	}
	return out
}

// literalDSNPassword reports whether a PostgreSQL DSN carries a password
// that is not a placeholder: in the URL's user info or as a password=
// keyword. A DSN with any {env.*} or {file.*} placeholder is left alone.
func literalDSNPassword(dsn string) bool {
	if strings.Contains(dsn, "{env.") || strings.Contains(dsn, "{file.") {
		return false
	}
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		_, set := u.User.Password()
		return set || u.Query().Get("password") != ""
	}
	for _, f := range strings.Fields(dsn) {
		if k, v, ok := strings.Cut(f, "="); ok && strings.TrimSpace(k) == "password" && v != "" {
			return true
		}
	}
	return false
}

// warnWeakSettings logs the settings that are allowed but weaker than the
// defaults, so the operator sees each choice at start.
func (a *App) warnWeakSettings(ck *CookieConfig) {
	if ck.Insecure {
		a.logger.Warn("DEVELOPMENT ONLY: cookie insecure is set; session cookies are sent over plain http and lose the Secure flag and __Host- prefix")
	}
	if a.sessionsBackend() == "memory" {
		a.logger.Warn("DEVELOPMENT ONLY: sessions memory is set; sessions are lost on restart and not shared between instances")
	}
	for _, w := range cookieWarnings(ck) {
		a.logger.Warn(w)
	}
	for _, w := range limitWarnings(a.effectiveLimits) {
		a.logger.Warn(w)
	}
	for _, w := range a.configWarnings() {
		a.logger.Warn(w)
	}
}

// cookieWarnings names the cookie settings that are allowed but weaken the
// defaults, so an operator sees the choice in the start-up log.
func cookieWarnings(ck *CookieConfig) []string {
	var out []string
	lifetime, idle := time.Duration(ck.Lifetime), time.Duration(ck.Idle)
	if lifetime == 0 {
		lifetime = session.DefaultLifetime
	}
	if idle == 0 {
		idle = session.DefaultIdle
	}
	if sameSiteNone(ck.SameSite) {
		out = append(out, "cookie same_site none: browsers send the session cookie with cross-site requests; the portal keeps its CSRF check, but the protected apps lose SameSite protection and must defend against CSRF themselves")
	}
	if lifetime > 30*24*time.Hour {
		out = append(out, fmt.Sprintf("cookie lifetime %s is longer than 30 days, the longest NIST SP 800-63B allows between sign-ins", lifetime))
	}
	if idle >= lifetime {
		out = append(out, fmt.Sprintf("cookie idle %s is not shorter than lifetime %s: the idle timeout never ends a session", idle, lifetime))
	}
	return out
}

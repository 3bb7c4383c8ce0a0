package caddyauth

import (
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/ratelimit"
)

// DatabaseConfig selects the user database.
type DatabaseConfig struct {
	// Driver is "sqlite" or "postgres".
	Driver string `json:"driver"`
	// DSN is the SQLite file path or the PostgreSQL connection string.
	DSN string `json:"dsn,omitempty"`
}

// SessionsConfig selects the session store.
type SessionsConfig struct {
	// Backend is "database", "redis" or "memory".
	Backend string `json:"backend"`
	// URL is the Redis URL (redis://, rediss://) for the redis backend.
	// Exactly one of URL, Sentinel and Cluster.
	URL string `json:"url,omitempty"`
	// Sentinel reaches a Sentinel-managed master.
	Sentinel *RedisSentinel `json:"sentinel,omitempty"`
	// Cluster lists Redis Cluster node addresses (host:port).
	Cluster []string `json:"cluster,omitempty"`
	// Username, Password, DB and TLS apply to Sentinel and Cluster (a
	// URL carries its own).
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	DB       int    `json:"db,omitempty"`
	TLS      bool   `json:"tls,omitempty"`
}

// CookieConfig is the `cookie` block.
type CookieConfig struct {
	// Name is the base name; "__Host-" / "__Secure-" is prefixed unless
	// insecure (default "caddyauth").
	Name string `json:"name,omitempty"`
	// Domain shares the session across subdomains (e.g. "example.com").
	Domain string `json:"domain,omitempty"`
	// SameSite is "lax" (default), "strict" or "none".
	SameSite string `json:"same_site,omitempty"`
	// Lifetime is the absolute session lifetime (default 24h).
	Lifetime caddy.Duration `json:"lifetime,omitempty"`
	// Idle is the idle timeout (default 1h).
	Idle caddy.Duration `json:"idle,omitempty"`
	// Insecure drops the Secure flag: plain-http development only.
	Insecure bool `json:"insecure,omitempty"`
}

// RateLimitConfig is the `rate_limit` option. Rates read "<n>/<duration>"
// or "off".
type RateLimitConfig struct {
	// Off disables every rate limit (tests and trusted networks only).
	Off             bool   `json:"off,omitempty"`
	LoginIP         string `json:"login_ip,omitempty"`
	LoginIdentifier string `json:"login_identifier,omitempty"`
	MFA             string `json:"mfa,omitempty"`
	MFASend         string `json:"mfa_send,omitempty"`
	// Recovery buckets (forgot-password; later passwordless): sends and
	// link or code checks, per client address and per identifier.
	RecoverySendIP  string `json:"recovery_send_ip,omitempty"`
	RecoverySend    string `json:"recovery_send,omitempty"`
	RecoveryCheckIP string `json:"recovery_check_ip,omitempty"`
	RecoveryCheck   string `json:"recovery_check,omitempty"`
	// RefreshClient, RefreshSession and Verify bound POST /auth/refresh
	// per client and per session, and GET /auth/verify per client.
	RefreshClient  string `json:"refresh_client,omitempty"`
	RefreshSession string `json:"refresh_session,omitempty"`
	Verify         string `json:"verify,omitempty"`
}

// MFAConfig is the `mfa` option.
type MFAConfig struct {
	// Required makes every user pass (and first enrol) a second factor.
	Required bool `json:"required,omitempty"`
	// Methods allowed: totp, email, sms, recovery (default all; email and
	// sms also need a sender).
	Methods []string `json:"methods,omitempty"`
	// TrustedDevice is how long "trust this device" lasts (default 14d;
	// negative: the choice is not offered).
	TrustedDevice caddy.Duration `json:"trusted_device,omitempty"`
	TrustCookie   string         `json:"trust_cookie,omitempty"`
	TrustHeader   string         `json:"trust_header,omitempty"`
	// Issuer labels the account in authenticator apps (default caddyauth).
	Issuer string `json:"issuer,omitempty"`
}

// mfaPolicy describes the MFA policy for the startup report.
func (a *App) mfaPolicy() string {
	m := a.mfaConfig()
	methods := m.Methods
	if len(methods) == 0 {
		methods = flows.AllMFAMethods
	}
	p := "optional"
	if m.Required {
		p = "required"
	}
	return p + " (" + strings.Join(methods, ",") + ")"
}

func (a *App) mfaConfig() flows.MFAConfig {
	if a.MFA == nil {
		return flows.MFAConfig{}
	}
	return flows.MFAConfig{
		Required: a.MFA.Required, Methods: a.MFA.Methods, TrustedDevice: time.Duration(a.MFA.TrustedDevice),
		TrustCookie: a.MFA.TrustCookie, TrustHeader: a.MFA.TrustHeader, Issuer: a.MFA.Issuer,
	}
}

// CORSConfig is the `cors` option.
type CORSConfig struct {
	// Origins are exact origins ("https://app.example.com"); "*" is refused.
	Origins []string `json:"origins,omitempty"`
}

func (a *App) corsOrigins() []string {
	if a.CORS == nil {
		return nil
	}
	return a.CORS.Origins
}

// LockoutConfig is the `lockout` option.
type LockoutConfig struct {
	Off      bool           `json:"off,omitempty"`
	Max      int            `json:"max,omitempty"`
	Window   caddy.Duration `json:"window,omitempty"`
	Duration caddy.Duration `json:"duration,omitempty"`
}

// limits turns the options into flows.Limits over the defaults.
func (a *App) limits() (flows.Limits, error) {
	l := flows.DefaultLimits()
	l.MaxKeys = a.LimitKeys
	if rl := a.RateLimit; rl != nil {
		if rl.Off {
			l.LoginIP, l.LoginIdentifier, l.MFA, l.MFASend = ratelimit.Rate{}, ratelimit.Rate{}, ratelimit.Rate{}, ratelimit.Rate{}
			l.RecoverySendIP, l.RecoverySend, l.RecoveryCheckIP, l.RecoveryCheck = ratelimit.Rate{}, ratelimit.Rate{}, ratelimit.Rate{}, ratelimit.Rate{}
			l.Verify, l.AccountExport = ratelimit.Rate{}, ratelimit.Rate{}
		}
		for _, f := range []struct {
			v   string
			dst *ratelimit.Rate
		}{
			{rl.LoginIP, &l.LoginIP},
			{rl.LoginIdentifier, &l.LoginIdentifier},
			{rl.MFA, &l.MFA},
			{rl.MFASend, &l.MFASend},
			{rl.RecoverySendIP, &l.RecoverySendIP},
			{rl.RecoverySend, &l.RecoverySend},
			{rl.RecoveryCheckIP, &l.RecoveryCheckIP},
			{rl.RecoveryCheck, &l.RecoveryCheck},
			{rl.Verify, &l.Verify},
		} {
			if f.v == "" {
				continue
			}
			r, err := ratelimit.ParseRate(f.v)
			if err != nil {
				return l, fmt.Errorf("caddyauth: rate_limit: %w", err)
			}
			*f.dst = r
		}
	}
	if lo := a.Lockout; lo != nil {
		if lo.Off {
			l.LockoutMax = 0
		} else {
			if err := checkLockout(lo); err != nil {
				return l, err
			}
			l.LockoutMax, l.LockoutWindow, l.LockoutDuration = lo.Max, time.Duration(lo.Window), time.Duration(lo.Duration)
		}
	}
	return l, nil
}

// HSTSConfig is the `hsts` option.
type HSTSConfig struct {
	// Off disables the header.
	Off bool `json:"off,omitempty"`
	// MaxAge defaults to one year.
	MaxAge caddy.Duration `json:"max_age,omitempty"`
	// IncludeSubdomains defaults to true.
	IncludeSubdomains *bool `json:"include_subdomains,omitempty"`
	Preload           bool  `json:"preload,omitempty"`
}

func (a *App) sessionsBackend() string {
	if a.Sessions == nil || a.Sessions.Backend == "" {
		return "database"
	}
	return a.Sessions.Backend
}

func (a *App) hstsValue() string {
	h := a.HSTS
	if h == nil {
		h = &HSTSConfig{}
	}
	if h.Off {
		return ""
	}
	age := time.Duration(h.MaxAge)
	if age == 0 {
		age = 365 * 24 * time.Hour
	}
	v := fmt.Sprintf("max-age=%d", int64(age.Seconds()))
	if h.IncludeSubdomains == nil || *h.IncludeSubdomains {
		v += "; includeSubDomains"
	}
	if h.Preload {
		v += "; preload"
	}
	return v
}

// checkContextWord refuses a context word the password policy would ignore.
func checkContextWord(w string) error {
	if utf8.RuneCountInString(strings.TrimSpace(w)) < password.MinContextWord {
		return fmt.Errorf("caddyauth: context_words: %q is shorter than %d characters, too short to judge a password by", w, password.MinContextWord)
	}
	return nil
}

// sameSiteNone reports whether the same_site value s means none; like
// parseSameSite it ignores case, so JSON "None" is judged as "none".
func sameSiteNone(s string) bool { return strings.EqualFold(s, "none") }

func parseSameSite(s string) (http.SameSite, error) {
	switch strings.ToLower(s) {
	case "", "lax":
		return http.SameSiteLaxMode, nil
	case "strict":
		return http.SameSiteStrictMode, nil
	case "none":
		return http.SameSiteNoneMode, nil
	}
	return 0, fmt.Errorf("caddyauth: cookie same_site %q: want lax, strict or none", s)
}

// Package flows serves the authentication flows (login, logout, sessions,
// first-run setup) as plain net/http handlers, and the Guard that protects
// upstream apps. Nothing here imports Caddy: the caddyauth package wires it
// in, and tests drive it with httptest.
package flows

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/oauth"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/redirect"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

// CookieConfig shapes the session cookie.
type CookieConfig struct {
	Name     string        // final name, prefix included (see CookieName)
	Domain   string        // empty: host-only cookie
	SameSite http.SameSite // default Lax
	Insecure bool          // no Secure flag: plain-http development only
}

// CookieName applies the browser-enforced prefixes: "__Host-" for a
// host-only secure cookie (cannot be set by a sibling subdomain or over
// http), "__Secure-" when a domain is set. An insecure cookie cannot carry
// either.
func CookieName(base, domain string, insecure bool) string {
	if base == "" {
		base = "caddyauth"
	}
	if insecure || strings.HasPrefix(base, "__Host-") || strings.HasPrefix(base, "__Secure-") {
		return base
	}
	if domain == "" {
		return "__Host-" + base
	}
	return "__Secure-" + base
}

// Config is the service-wide configuration (the caddyauth app's).
type Config struct {
	Cookie CookieConfig
	// HSTS is the Strict-Transport-Security value sent on TLS responses
	// ("" disables).
	HSTS string
	// RedirectHosts lists hosts a return URL may point at besides the
	// current one (see internal/redirect).
	RedirectHosts []string
	// ClientIP returns the client address (Caddy's trusted-proxy aware
	// value in production). Default: r.RemoteAddr's host.
	ClientIP func(*http.Request) string
	Logger   *zap.Logger
	Now      func() time.Time
	// SetupTTL is how long a first-run setup link stays valid (default 1h).
	SetupTTL time.Duration
	// AdminGroup is given to the first account (default "admin").
	AdminGroup string
	// ContextWords are words (besides the account's email and name) a new
	// password must not be built from: the company or product name.
	ContextWords []string
	// Limits for the login endpoint; nil means DefaultLimits().
	Limits *Limits
	// CORSOrigins may call the portal API from the browser with
	// credentials (exact origins; "*" is refused).
	CORSOrigins []string
	// Observer receives metrics events (default: none).
	Observer Observer
	// NewLimiter builds rate-limit buckets (default: in-process).
	NewLimiter NewLimiter
	// MFA is the second-factor policy.
	MFA MFAConfig
	// Keys seals TOTP secrets and keys the hashes of one-time codes
	// (default: a random ring, for tests; production passes the app's).
	Keys *keys.Ring
	// OAuth lists the configured identity providers (see oauth.go).
	OAuth []*oauth.Provider
	// OAuthStateKeys seal the OAuth state cookie: current key first,
	// previous ones still open it (ring.VerifyKeys("oauth-state")).
	OAuthStateKeys [][]byte
	// Tokens shapes bearer mode and signed assertions (token_keys.go).
	Tokens TokenConfig
	// PasswordReset turns on forgot/reset password (reset_config.go).
	PasswordReset PasswordResetConfig
	// Passwordless turns on sign-in by a code or magic link
	// (passwordless.go).
	Passwordless PasswordlessConfig
	// Registration is self-service sign-up (register.go).
	Registration RegistrationConfig
	// RequireVerifiedEmail is the default of every guard's
	// RequireVerifiedEmail (`require verified_email` in the global block).
	RequireVerifiedEmail bool
	// SendFloor is the least time a forgot-password (or passwordless
	// send) answer takes, for
	// every identifier alike (default 400ms; negative: none, for tests).
	SendFloor time.Duration
	// Breach is the breached-password check of new passwords (nil:
	// none). Its Warn (a log line) and Observe (metrics) default to the
	// service's.
	Breach *BreachCheck
	// TrustedForwarder reports whether a request comes from one of
	// Caddy's trusted proxies, whose forwarded headers /auth/verify
	// believes (verify.go). Default: none is.
	TrustedForwarder func(*http.Request) bool
	// Account switches the self-service export and deletion
	// (account_routes.go); both are on by default.
	Account AccountConfig
}

// Deps are the stores and primitives the flows use.
type Deps struct {
	Users  store.UserStore
	Tokens TokenStore
	// Grants keeps reset, sign-in and invitation links (grant.go; default:
	// Tokens, when it implements it). Without it those flows are off.
	Grants   store.GrantStore
	Sessions *session.Manager
	Hasher   *password.Hasher
	// Audit records security events (default: discarded).
	Audit audit.Recorder
	// Outbox queues email and SMS (default: refuses, so flows that need
	// it report the method as unavailable).
	Outbox notify.Queue
	// Methods switches auth methods at runtime (default: all enabled).
	Methods MethodSwitch
	// MethodAdmin lists and flips the switch for the admin API (nil: the
	// methods endpoints answer 404). It is usually the same value as
	// Methods.
	MethodAdmin MethodAdmin
	// MFA keeps second factors (default: Users, when it implements it).
	MFA store.MFAStore
	// Lockouts keeps the login lockout where every instance shares it
	// (default: in-process, per instance).
	Lockouts store.LockoutStore
	// Identities links users to OAuth/OIDC accounts (required when
	// Config.OAuth is not empty).
	Identities store.IdentityStore
	// APIKeys keeps API keys (default: Users, when it implements it).
	// Without it keys are refused and the key endpoints answer 404.
	APIKeys store.APIKeyStore
	// AuditLog reads the audit chain back, for the account export's
	// records about the caller (default: Users, when it implements it;
	// nil: the export carries no records).
	AuditLog store.AuditStore
}

// TokenStore keeps the one-time tokens and codes: a new code or setup
// link replaces the older ones of its purpose (DeleteUserTokens), so one
// is live at a time.
type TokenStore interface {
	store.TokenStore
	store.TokenPurger
}

// Service holds the shared state of every portal and guard.
type Service struct {
	cfg  Config
	deps Deps
	// redirects holds the return-URL checker and the CSP naming the same
	// hosts; verify lines add theirs (redirect_hosts.go).
	redirects atomic.Pointer[redirectPolicy]
	log       *zap.Logger
	tmpl      templates
	limits    limiters

	corsOrigins map[string]bool
	obs         Observer
	keys        *keys.Ring
	oauth       *oauthFlows
	factors     factors // the configured second factors on the challenge
	trust       Factor  // the remembered device, checked at login
	// creds identify portal callers, in order (credential.go);
	// guardCreds those of protected sites and /auth/verify: the same,
	// then API keys.
	creds, guardCreds credentials
	// tokens sign and verify bearer tokens and assertions.
	tokens *tokenKeys
}

// New validates cfg and builds the service.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Users == nil || deps.Tokens == nil || deps.Sessions == nil || deps.Hasher == nil {
		return nil, fmt.Errorf("flows: missing dependency")
	}
	if deps.Audit == nil {
		deps.Audit = audit.Nop{}
	}
	if deps.Outbox == nil {
		deps.Outbox = noOutbox{}
	}
	if deps.Methods == nil {
		deps.Methods = allMethods{}
	}
	if deps.MFA == nil {
		m, ok := deps.Users.(store.MFAStore)
		if !ok {
			return nil, fmt.Errorf("flows: missing MFA store")
		}
		deps.MFA = m
	}
	if deps.Grants == nil {
		deps.Grants, _ = deps.Tokens.(store.GrantStore)
	}
	if deps.APIKeys == nil {
		deps.APIKeys, _ = deps.Users.(store.APIKeyStore)
	}
	if deps.AuditLog == nil {
		deps.AuditLog, _ = deps.Users.(store.AuditStore)
	}
	if cfg.Keys == nil {
		r, err := keys.NewRing(keys.NewToken()+keys.NewToken(), "")
		if err != nil {
			return nil, err
		}
		cfg.Keys = r
	}
	if cfg.Cookie.Name == "" {
		cfg.Cookie.Name = CookieName("", cfg.Cookie.Domain, cfg.Cookie.Insecure)
	}
	if cfg.Cookie.SameSite == 0 {
		cfg.Cookie.SameSite = http.SameSiteLaxMode
	}
	if cfg.Cookie.SameSite == http.SameSiteNoneMode && cfg.Cookie.Insecure {
		return nil, fmt.Errorf("cookie same_site none requires a secure cookie")
	}
	if strings.HasPrefix(cfg.Cookie.Name, "__Host-") && (cfg.Cookie.Domain != "" || cfg.Cookie.Insecure) {
		return nil, fmt.Errorf("cookie name %q: the __Host- prefix requires a secure cookie without a domain", cfg.Cookie.Name)
	}
	if strings.HasPrefix(cfg.Cookie.Name, "__Secure-") && cfg.Cookie.Insecure {
		return nil, fmt.Errorf("cookie name %q: the __Secure- prefix requires a secure cookie", cfg.Cookie.Name)
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = RemoteIP
	}
	cfg.ClientIP = canonicalClientIP(cfg.ClientIP)
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SetupTTL == 0 {
		cfg.SetupTTL = time.Hour
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if b := cfg.Breach; b != nil {
		c := *b // the caller's value stays as given
		if c.Warn == nil {
			log := cfg.Logger
			c.Warn = func(err error) {
				// err names neither the password nor its hash.
				log.Warn("breached-password check unavailable", zap.Bool("refused", c.RefuseOnError), zap.Error(err))
			}
		}
		if c.Observe == nil {
			c.Observe = cfg.Observer.BreachCheck
		}
		cfg.Breach = &c
	}
	cfg.PasswordReset.setDefaults()
	cfg.Passwordless.setDefaults()
	if cfg.SendFloor == 0 {
		cfg.SendFloor = defaultSendFloor
	}
	if cfg.AdminGroup == "" {
		cfg.AdminGroup = "admin"
	}
	hosts := append([]string(nil), cfg.RedirectHosts...)
	if cfg.Cookie.Domain != "" {
		// A cookie domain already shares the session with every host
		// under it; return URLs may go there too.
		hosts = append(hosts, "."+strings.TrimPrefix(cfg.Cookie.Domain, "."))
	}
	rc, err := redirect.New(hosts, cfg.Cookie.Insecure)
	if err != nil {
		return nil, err
	}
	t, err := loadTemplates()
	if err != nil {
		return nil, err
	}
	corsOrigins, err := checkCORSOrigins(cfg.CORSOrigins)
	if err != nil {
		return nil, err
	}
	of, err := newOAuthFlows(cfg, deps)
	if err != nil {
		return nil, err
	}
	lim := DefaultLimits()
	if cfg.Limits != nil {
		lim = *cfg.Limits
	}
	if err := cfg.MFA.setDefaults(cfg.Cookie); err != nil {
		return nil, err
	}
	s := &Service{
		cfg:    cfg,
		deps:   deps,
		log:    cfg.Logger,
		tmpl:   t,
		limits: newLimiters(lim, cfg.NewLimiter, deps.Lockouts),

		corsOrigins: corsOrigins,
		obs:         cfg.Observer,
		keys:        cfg.Keys,
		oauth:       of,
	}
	s.redirects.Store(&redirectPolicy{hosts: hosts, check: rc, csp: buildCSP(hosts, cfg.Cookie.Insecure)})
	s.factors = newFactors(s, cfg.MFA.Methods)
	s.trust = trustedDeviceFactor{s}
	if s.tokens, err = newTokenKeys(cfg.Tokens, cfg.Keys, cfg.NewLimiter, lim.MaxKeys); err != nil {
		return nil, err
	}
	s.creds = credentials{cookieCredential{s}, bearerCredential{s}}
	s.guardCreds = s.creds
	if deps.APIKeys != nil {
		s.guardCreds = append(credentials{}, cookieCredential{s}, bearerCredential{s}, apiKeyCredential{s})
	}
	return s, nil
}

// buildCSP: no scripts at all, styles only from our own static path, and
// forms may submit (and be redirected after submission, which Chrome checks
// against form-action) only to this origin and the configured return hosts.
func buildCSP(hosts []string, insecure bool) string {
	formAction := []string{"'self'"}
	for _, h := range hosts {
		pat := h
		if strings.HasPrefix(h, ".") {
			formAction = append(formAction, "https://"+h[1:])
			pat = "*" + h
		}
		formAction = append(formAction, "https://"+pat)
		if insecure {
			formAction = append(formAction, "http://"+pat)
		}
	}
	return "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action " +
		strings.Join(formAction, " ") + "; frame-ancestors 'none'; base-uri 'none'"
}

// securityHeaders are sent on every portal response.
func (s *Service) securityHeaders(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", s.redirects.Load().csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// same-origin, not no-referrer: with no-referrer browsers send
	// "Origin: null" on our own form posts, and the CSRF check could then
	// only rely on Sec-Fetch-Site. Other origins still get no referrer.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	s.hsts(w, r)
}

// hsts adds Strict-Transport-Security on TLS responses (browsers ignore it
// over plain http, so sending it there would only mislead).
func (s *Service) hsts(w http.ResponseWriter, r *http.Request) {
	if s.cfg.HSTS != "" && r.TLS != nil {
		w.Header().Set("Strict-Transport-Security", s.cfg.HSTS)
	}
}

func (s *Service) setSessionCookie(w http.ResponseWriter, id *session.Identity) {
	http.SetCookie(w, &http.Cookie{
		Name:     s.cfg.Cookie.Name,
		Value:    id.Token,
		Path:     "/",
		Domain:   s.cfg.Cookie.Domain,
		Expires:  id.Session.ExpiresAt,
		MaxAge:   int(math.Ceil(time.Until(id.Session.ExpiresAt).Seconds())),
		HttpOnly: true,
		Secure:   !s.cfg.Cookie.Insecure,
		SameSite: s.cfg.Cookie.SameSite,
	})
}

func (s *Service) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     s.cfg.Cookie.Name,
		Value:    "",
		Path:     "/",
		Domain:   s.cfg.Cookie.Domain,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   !s.cfg.Cookie.Insecure,
		SameSite: s.cfg.Cookie.SameSite,
	})
}

// CookieName is the effective session cookie name.
func (s *Service) CookieName() string { return s.cfg.Cookie.Name }

// RemoteIP is the host part of r.RemoteAddr: the client address when no
// proxy-aware value is available.
func RemoteIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return CanonicalIP(strings.Trim(host, "[]"))
}

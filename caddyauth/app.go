// Package caddyauth is the Caddy glue of the gateway: the `caddyauth` app
// (global option), the `protect` and `auth_portal` HTTP handlers, their
// Caddyfile syntax, placeholders and the `caddy auth` subcommands. The flows
// themselves live in package flows and know nothing of Caddy.
package caddyauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/metrics"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
	sqlstore "github.com/caddyauth/gateway/store/sql"
)

func init() {
	caddy.RegisterModule(&App{})
}

// App is the `caddyauth` app: one per Caddy process, shared by every site's
// `protect` and `auth_portal` handlers. It owns the stores, the session
// manager and the keys.
type App struct {
	// Secret is the master secret (>= 32 bytes). A value that is one whole
	// placeholder, {env.CADDYAUTH_SECRET} or {file./path}, is resolved; any
	// other value is a literal, braces included.
	Secret string `json:"secret,omitempty"`
	// SecretFile is read when Secret is empty; surrounding whitespace is
	// trimmed.
	SecretFile string `json:"secret_file,omitempty"`
	// PreviousSecret verifies values made with the old secret during a
	// rotation; it never signs.
	PreviousSecret string `json:"previous_secret,omitempty"`
	// Database holds users (and sessions by default). Default: SQLite in
	// Caddy's data directory.
	Database *DatabaseConfig `json:"database,omitempty"`
	// Sessions selects the session store: "database" (default), "redis"
	// or "memory" (development only).
	Sessions *SessionsConfig `json:"sessions,omitempty"`
	// Cookie shapes the session cookie and its lifetimes.
	Cookie *CookieConfig `json:"cookie,omitempty"`
	// MaxSessionsPerUser evicts the oldest session beyond it (default 10).
	MaxSessionsPerUser int `json:"max_sessions_per_user,omitempty"`
	// SessionCache is how long an instance may reuse a validated session
	// without asking the store (default and maximum 5s; "off" disables).
	SessionCache caddy.Duration `json:"session_cache,omitempty"`
	// SessionCacheEntries bounds the validated sessions an instance
	// caches (default 100000; about 0.7 KiB each, docs/benchmarks.md).
	SessionCacheEntries int `json:"session_cache_entries,omitempty"`
	// LimitKeys bounds the keys (client addresses, identifiers) each
	// in-process rate-limit bucket and lockout holds (default 100000).
	LimitKeys int `json:"limit_keys,omitempty"`
	// Tokens shapes bearer mode's access tokens and signed assertions.
	Tokens *TokensConfig `json:"tokens,omitempty"`
	// HSTS configures Strict-Transport-Security on TLS responses.
	HSTS *HSTSConfig `json:"hsts,omitempty"`
	// RedirectHosts are hosts a return URL may point at besides the
	// current one and the cookie domain ("app.example.com",
	// "*.example.com", ".example.com"), each optionally with a port
	// ("app.example.com:8443"; without one: the scheme's default port
	// or the port of the request being answered).
	RedirectHosts []string `json:"redirect_hosts,omitempty"`
	// HashConcurrency bounds password hashes running at once (default
	// 2 x CPUs); each takes 19 MiB.
	HashConcurrency int `json:"hash_concurrency,omitempty"`
	// ContextWords are words a new password must not be built from (the
	// company or product name), besides the account's email and name.
	ContextWords []string `json:"context_words,omitempty"`
	// RateLimit tunes the login rate limits (default 20/1m per client IP,
	// 5/1m per identifier).
	RateLimit *RateLimitConfig `json:"rate_limit,omitempty"`
	// Lockout tunes the per-(identifier, IP) lockout (default 10 failures
	// in 15m lock for 15m).
	Lockout *LockoutConfig `json:"lockout,omitempty"`
	// CORS lists browser origins that may call the portal API with
	// credentials.
	CORS *CORSConfig `json:"cors,omitempty"`
	// MFA is the second-factor policy.
	MFA *MFAConfig `json:"mfa,omitempty"`
	// Audit adds sinks (file, webhook) to the audit trail, which the
	// database always keeps.
	Audit *AuditConfig `json:"audit,omitempty"`
	// OAuth lists identity providers users may sign in with (oauth.go).
	OAuth []*OAuthProvider `json:"oauth,omitempty"`
	// Email and SMS select how queued messages are delivered (none: flows
	// that need them refuse).
	Email *SenderConfig `json:"email,omitempty"`
	SMS   *SenderConfig `json:"sms,omitempty"`
	// MessageTemplates is a directory whose files replace the embedded
	// message templates of the same name.
	MessageTemplates string `json:"message_templates,omitempty"`
	// Outbox tunes the delivery worker (send timeout, lease).
	Outbox *OutboxConfig `json:"outbox,omitempty"`
	// PasswordReset shapes forgot/reset password (recovery.go).
	PasswordReset *PasswordResetConfig `json:"password_reset,omitempty"`
	// Passwordless turns on sign-in by a code or magic link (recovery.go).
	Passwordless *PasswordlessConfig `json:"passwordless,omitempty"`
	// RequireVerifiedEmail (`require verified_email`) is the default of
	// every protect and verify line: users without a verified email are
	// refused (403 EMAIL_NOT_VERIFIED).
	RequireVerifiedEmail bool `json:"require_verified_email,omitempty"`
	// Registration is self-service sign-up (registration.go).
	Registration *RegistrationConfig `json:"registration,omitempty"`
	// Account switches the self-service export and deletion (account.go).
	Account *AccountConfig `json:"account,omitempty"`
	// Password adds checks of new passwords to the policy: the
	// breached-password lookup (breach.go).
	Password *PasswordConfig `json:"password,omitempty"`

	service  *flows.Service
	ring     *keys.Ring // purpose keys: ring.Key("totp"), ring.Key("audit")...
	caddyCtx caddy.Context
	audit    audit.Recorder
	sessions *session.Manager
	users    store.UserStore
	db       *sqlstore.DB
	sstore   store.SessionStore
	stores   *backend // what openBackend opened, with its capabilities
	logger   *zap.Logger
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	outbox   *notify.Outbox
	worker   *notify.Worker

	auditChain *audit.Chain // behind a.audit once provisioned; closed with the stores

	effectiveLimits flows.Limits

	basesMu sync.Mutex
	bases   map[string]bool
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "caddyauth", New: func() caddy.Module { return new(App) }}
}

// Provision judges the config, then opens the stores and builds the flows.
// Caddy provisions an app before it validates it, so the judging is done
// here first: a config with any refused value opens nothing, and the error
// lists every problem. Whatever the acquiring half opened is released in
// one place when it fails.
func (a *App) Provision(ctx caddy.Context) (err error) {
	a.caddyCtx = ctx
	a.logger = ctx.Logger()
	a.bases = map[string]bool{}
	if a.ring, err = a.judge(); err != nil {
		return err
	}
	a.audit = audit.Nop{}
	defer func() {
		if err != nil {
			a.closeStores()
		}
	}()
	return a.acquire(ctx)
}

// judge checks the secrets and every other value of the config; it opens
// nothing, so it can refuse a config before anything must be released.
func (a *App) judge() (*keys.Ring, error) {
	ring, err := a.keyRing()
	if err := errors.Join(append([]error{err}, a.configProblems()...)...); err != nil {
		return nil, err
	}
	return ring, nil
}

// keyRing resolves and checks the secret and previous secret.
func (a *App) keyRing() (*keys.Ring, error) {
	secret, previous, err := a.secrets()
	if err != nil {
		return nil, err
	}
	if err := keys.CheckSecret(secret); err != nil {
		return nil, fmt.Errorf("caddyauth: %s: %w", a.secretSource(), err)
	}
	if previous != "" {
		if err := keys.CheckSecret(previous); err != nil {
			return nil, fmt.Errorf("caddyauth: %s: %w", secretOption("previous_secret", a.PreviousSecret), err)
		}
	}
	ring, err := keys.NewRing(secret, previous)
	if err != nil {
		return nil, fmt.Errorf("caddyauth: secret: %w", err)
	}
	return ring, nil
}

// acquire opens the stores and sinks and builds the flows; on an error the
// caller (Provision) releases what was opened.
func (a *App) acquire(ctx caddy.Context) error {
	var err error
	if err := a.openStores(ctx); err != nil {
		return err
	}
	if err := a.provisionAudit(ctx); err != nil {
		return err
	}
	ck := a.Cookie
	if ck == nil {
		ck = &CookieConfig{}
	}
	cache := time.Duration(a.SessionCache)
	if cache < 0 {
		cache = -1
	}
	a.sessions, err = session.New(a.sstore, a.users, session.Config{
		Lifetime:   time.Duration(ck.Lifetime),
		Idle:       time.Duration(ck.Idle),
		MaxPerUser: a.MaxSessionsPerUser,
		CacheTTL:   cache,
		CacheSize:  a.SessionCacheEntries,
	})
	if err != nil {
		return fmt.Errorf("caddyauth: %w", err)
	}
	if bus := a.stores.revocations; bus != nil {
		a.sessions.SetBroadcaster(bus)
	}
	sameSite, err := parseSameSite(ck.SameSite)
	if err != nil {
		return err
	}
	a.effectiveLimits, err = a.limits()
	if err != nil {
		return err
	}
	providers, err := a.oauthProviders()
	if err != nil {
		return err
	}
	obs, err := metrics.New(ctx.GetMetricsRegistry())
	if err != nil {
		return fmt.Errorf("caddyauth: metrics: %w", err)
	}
	if err := a.provisionNotify(ctx); err != nil {
		return err
	}
	reg, err := a.registration()
	if err != nil {
		return err
	}
	breach, err := a.breachCheck(nil)
	if err != nil {
		return err
	}
	a.service, err = flows.New(flows.Config{
		Cookie: flows.CookieConfig{
			Name:     flows.CookieName(ck.Name, ck.Domain, ck.Insecure),
			Domain:   ck.Domain,
			SameSite: sameSite,
			Insecure: ck.Insecure,
		},
		HSTS:          a.hstsValue(),
		RedirectHosts: a.RedirectHosts,
		ContextWords:  a.ContextWords,
		ClientIP:      clientIP,
		Logger:        a.logger,
		Limits:        &a.effectiveLimits,
		CORSOrigins:   a.corsOrigins(),
		Observer:      obs,
		NewLimiter:    a.limiterFactory(),
		MFA:           a.mfaConfig(),
		Keys:          a.ring,
		Tokens:        a.tokenConfig(),
		// /auth/verify believes forwarded headers from these only.
		TrustedForwarder: trustedForwarder,

		OAuth:                providers,
		OAuthStateKeys:       a.ring.VerifyKeys("oauth-state"),
		PasswordReset:        a.passwordReset(),
		Passwordless:         a.passwordless(),
		Registration:         reg,
		RequireVerifiedEmail: a.RequireVerifiedEmail,
		Account:              a.account(),
		Breach:               breach,
	}, flows.Deps{
		Users:    a.users,
		Tokens:   a.stores.tokens,
		Sessions: a.sessions,
		Hasher:   password.New(password.DefaultParams, a.HashConcurrency),
		Audit:    a.audit,
		MFA:      a.db,
		// The database is shared by every instance: a method switched
		// off or a lockout lifted there is felt by all of them.
		Methods:     a.stores.methods,
		MethodAdmin: a.stores.methods,
		Lockouts:    a.db,

		Identities: a.db,
		Outbox:     a.queue(),
		// The account export reads the caller's records back.
		AuditLog: a.db,
	})
	if err != nil {
		return fmt.Errorf("caddyauth: %w", err)
	}
	a.warnWeakSettings(ck)
	return nil
}

// Cleanup closes the stores.
func (a *App) Cleanup() error {
	a.closeStores()
	return nil
}

func (a *App) registerBase(base string) {
	a.basesMu.Lock()
	a.bases[base] = true
	a.basesMu.Unlock()
}

// clientIP is Caddy's client address, which honours the server's
// trusted_proxies: X-Forwarded-For from an untrusted peer is ignored.
func clientIP(r *http.Request) string {
	if v, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && v != "" {
		return v
	}
	return flows.RemoteIP(r)
}

// appFrom loads the caddyauth app for a handler.
func appFrom(ctx caddy.Context) (*App, error) {
	v, err := ctx.App("caddyauth")
	if err != nil {
		return nil, err
	}
	return v.(*App), nil
}

// Interface guards.
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)

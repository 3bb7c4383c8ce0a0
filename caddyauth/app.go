// Package caddyauth is the Caddy glue of the gateway: the `caddyauth` app
// (global option), the `protect` and `auth_portal` HTTP handlers, their
// Caddyfile syntax, placeholders and the `caddy auth` subcommands. The flows
// themselves live in package flows and know nothing of Caddy.
package caddyauth

import (
	"context"
	"errors"
	"fmt"
	"github.com/caddyauth/gateway/internal/audit"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/metrics"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/ratelimit"
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
	URL string `json:"url,omitempty"`
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
	if rl := a.RateLimit; rl != nil {
		if rl.Off {
			l.LoginIP, l.LoginIdentifier, l.MFA, l.MFASend = ratelimit.Rate{}, ratelimit.Rate{}, ratelimit.Rate{}, ratelimit.Rate{}
			l.Verify = ratelimit.Rate{}
		}
		for _, f := range []struct {
			v   string
			dst *ratelimit.Rate
		}{{rl.LoginIP, &l.LoginIP}, {rl.LoginIdentifier, &l.LoginIdentifier}, {rl.MFA, &l.MFA}, {rl.MFASend, &l.MFASend}, {rl.Verify, &l.Verify}} {
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

		OAuth:          providers,
		OAuthStateKeys: a.ring.VerifyKeys("oauth-state"),
	}, flows.Deps{
		Users:    a.users,
		Tokens:   a.stores.tokens,
		Sessions: a.sessions,
		Hasher:   password.New(password.DefaultParams, a.HashConcurrency),
		Audit:    a.audit,
		MFA:      a.db,
		// The database is shared by every instance: a method switched
		// off or a lockout lifted there is felt by all of them.
		Methods:  a.stores.methods,
		Lockouts: a.db,

		Identities: a.db,
		Outbox:     a.queue(),
	})
	if err != nil {
		return fmt.Errorf("caddyauth: %w", err)
	}
	a.warnWeakSettings(ck)
	return nil
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

// secrets resolves the current and previous secrets.
func (a *App) secrets() (string, string, error) {
	secret, err := resolveSecret("secret", a.Secret, true)
	if err != nil {
		return "", "", err
	}
	if secret == "" && a.SecretFile != "" {
		b, err := os.ReadFile(a.SecretFile)
		if err != nil {
			return "", "", fmt.Errorf("caddyauth: secret_file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	if secret == "" {
		return "", "", errors.New("caddyauth: no secret configured (or it resolved to empty): add `secret {env.CADDYAUTH_SECRET}` or `secret_file <path>` to the caddyauth global option; generate one with `caddy auth secret generate`")
	}
	previous, err := resolveSecret("previous_secret", a.PreviousSecret, false)
	if err != nil {
		return "", "", err
	}
	return secret, previous, nil
}

// placeholderRE matches a value that is one whole env or file placeholder,
// the only global placeholders that can hold a secret. Any other value,
// braces or not, is a literal.
var placeholderRE = regexp.MustCompile(`^\{(env|file)\.[^{}]+\}$`)

// isPlaceholder reports whether the secret option value v is a single
// placeholder such as {env.CADDYAUTH_SECRET} or {file./run/secrets/caddyauth}.
func isPlaceholder(v string) bool { return placeholderRE.MatchString(v) }

// mixesPlaceholder reports whether v holds an env or file placeholder
// along with other text, which a secret option does not support.
func mixesPlaceholder(v string) bool {
	return !isPlaceholder(v) && (strings.Contains(v, "{env.") || strings.Contains(v, "{file."))
}

// errMixedPlaceholder is the error for such a value of option opt.
func errMixedPlaceholder(opt string) error {
	return fmt.Errorf("caddyauth: %s: a placeholder must be the whole value, such as {env.CADDYAUTH_SECRET}", opt)
}

// resolveSecret resolves v when it is a single placeholder and returns any
// other value as written. Errors name the option and the placeholder, never
// a literal value. An empty placeholder is an error only when required.
func resolveSecret(opt, v string, required bool) (string, error) {
	if !isPlaceholder(v) {
		if mixesPlaceholder(v) {
			return "", errMixedPlaceholder(opt)
		}
		return v, nil
	}
	s, err := caddy.NewReplacer().ReplaceOrErr(v, required, true)
	if err != nil {
		return "", fmt.Errorf("caddyauth: %s: %w", opt, err)
	}
	return s, nil
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

// secretSource names where the failing secret came from (never its value),
// so the operator knows which placeholder or file to fix.
func (a *App) secretSource() string {
	if a.Secret == "" && a.SecretFile != "" {
		return "secret_file " + a.SecretFile
	}
	return secretOption("secret", a.Secret)
}

// secretOption echoes a placeholder such as {env.X}, never a literal value.
func secretOption(opt, v string) string {
	if isPlaceholder(v) {
		return opt + " " + v
	}
	return opt
}

func (a *App) sessionsBackend() string {
	if a.Sessions == nil || a.Sessions.Backend == "" {
		return "database"
	}
	return a.Sessions.Backend
}

// DefaultDatabasePath is the SQLite file used when no database is set.
func DefaultDatabasePath() string {
	return filepath.Join(caddy.AppDataDir(), "caddyauth", "caddyauth.db")
}

// openDatabase opens the configured user database.
func openDatabase(ctx context.Context, cfg *DatabaseConfig) (*sqlstore.DB, error) {
	driver, dsn := "sqlite", DefaultDatabasePath()
	if cfg != nil {
		driver = cfg.Driver
		if cfg.DSN != "" {
			dsn = cfg.DSN
		} else if driver != "sqlite" {
			return nil, fmt.Errorf("caddyauth: database %s needs a connection string", driver)
		}
	}
	dsn, err := caddy.NewReplacer().ReplaceOrErr(dsn, true, true)
	if err != nil {
		return nil, fmt.Errorf("caddyauth: database: %w", err)
	}
	db, err := sqlstore.Open(ctx, driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("caddyauth: database %s: %w", driver, err)
	}
	return db, nil
}

func (a *App) openStores(ctx context.Context) error {
	b, err := openBackend(ctx, a)
	if err != nil {
		return err
	}
	a.stores, a.db, a.users, a.sstore = b, b.db, b.db, b.sessions
	return nil
}

func (a *App) closeStores() {
	a.closeAudit()
	if a.stores != nil {
		a.stores.Close()
	}
	a.stores, a.sstore, a.db = nil, nil, nil
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

// Start purges expired sessions on a schedule and, while no user exists,
// logs the one-time setup link.
func (a *App) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.sessions.RunJanitor(ctx, 10*time.Minute, func(err error) {
			a.logger.Warn("purging expired sessions failed", zap.Error(err))
		})
	}()
	if bus := a.stores.revocations; bus != nil {
		// Revocations from other instances and the CLI reach this cache
		// at once; the cache TTL stays the bound when messages are lost.
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			bus.SubscribeRevoked(ctx, a.sessions.Forget, a.sessions.FlushCache)
		}()
	}
	a.startNotify(ctx)
	a.logStartup(ctx)
	a.checkTrustHeader()
	return nil
}

// checkTrustHeader warns when Caddy will drop the trusted-device header:
// since 2.11 Caddy drops request headers whose names contain underscores
// unless a server lists them in expected_underscore_headers.
func (a *App) checkTrustHeader() {
	name := a.service.TrustHeader()
	if !strings.Contains(name, "_") || a.caddyCtx.Context == nil {
		return
	}
	raw, err := a.caddyCtx.AppIfConfigured("http")
	if err != nil {
		return
	}
	httpApp, ok := raw.(*caddyhttp.App)
	if !ok {
		return
	}
	var dropping []string
	for srvName, srv := range httpApp.Servers {
		allowed := false
		for _, h := range srv.ExpectedUnderscoreHeaders {
			allowed = allowed || strings.EqualFold(h, name) || (strings.HasSuffix(h, "*") && strings.HasPrefix(strings.ToLower(name), strings.ToLower(strings.TrimSuffix(h, "*"))))
		}
		if !allowed {
			dropping = append(dropping, srvName)
		}
	}
	if len(dropping) > 0 {
		// Informational: the hyphen form works everywhere by default.
		slices.Sort(dropping)
		a.logger.Info("Caddy drops header names with underscores: clients send the trusted-device token as the hyphen form (or the server lists the header in expected_underscore_headers)",
			zap.Strings("servers", dropping), zap.String("header", name),
			zap.String("hyphen_form", strings.ReplaceAll(name, "_", "-")))
	}
}

func (a *App) logStartup(ctx context.Context) {
	a.logger.Info("caddyauth ready",
		zap.String("sessions", a.sessionsBackend()),
		zap.String("cookie", a.service.CookieName()),
		zap.Bool("hsts", a.hstsValue() != ""),
		zap.Bool("csrf_protection", true),
		zap.Bool("rate_limits_shared", a.limiterFactory() != nil),
		zap.String("login_rate_ip", a.effectiveLimits.LoginIP.String()),
		zap.String("login_rate_identifier", a.effectiveLimits.LoginIdentifier.String()),
		zap.Int("lockout_after", a.effectiveLimits.LockoutMax),
		zap.Strings("cors_origins", a.corsOrigins()),
		zap.String("mfa", a.mfaPolicy()),
		zap.String("mfa_rate", a.effectiveLimits.MFA.String()),
		zap.Strings("audit_sinks", a.auditSinks()),
		zap.String("email", a.Email.describe()),
		zap.String("sms", a.SMS.describe()),
	)
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tok, exp, err := a.service.NewSetupToken(tctx)
	if err != nil {
		a.logger.Error("could not check for a first administrator", zap.Error(err))
		return
	}
	if tok == "" {
		return
	}
	a.basesMu.Lock()
	bases := make([]string, 0, len(a.bases))
	for b := range a.bases {
		bases = append(bases, b)
	}
	a.basesMu.Unlock()
	if len(bases) == 0 {
		bases = []string{"/auth"}
	}
	// The link is the one token we ever log, by design: it is single-use,
	// expires, and dies as soon as any account exists.
	a.logger.Warn("no user exists yet: open this one-time link on your site to create the first administrator, or run `caddy auth user add`",
		zap.String("setup_path", bases[0]+"/setup?token="+tok),
		zap.Time("expires", exp))
}

// limiterFactory shares rate-limit budgets through Redis when sessions are
// there (several instances, one budget); otherwise buckets are in-process.
func (a *App) limiterFactory() flows.NewLimiter {
	if a.stores == nil {
		return nil
	}
	return a.stores.newLimiter
}

// Stop ends background work.
func (a *App) Stop() error {
	a.stopNotify()
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
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

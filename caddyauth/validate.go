package caddyauth

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/internal/oauth"
	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/internal/redirect"
)

// Value checks shared by the Caddyfile parser and Validate. The parser
// calls them to give a file and line; Validate calls them again so a JSON
// config, which never meets the parser, is judged by the same rules.

const (
	maxSessionCache   = 5 * time.Second
	maxTrustedDays    = 400 * 24 * time.Hour // browsers cap cookie lifetime at 400 days
	maxLockoutFailure = 100                  // NIST SP 800-63B caps consecutive failures at 100
	minCookieDuration = time.Second
)

var (
	errSessionCache  = errors.New("caddyauth: session_cache must be between 1ms and 5s, or off")
	errTrustedDevice = errors.New("caddyauth: mfa trusted_device must be between 1s and 400d, or off")
	errLockoutTimes  = errors.New("caddyauth: lockout window and duration must be positive")
)

// Validate rejects configuration that cannot be right, reporting every
// problem at once. Provision runs it before it acquires anything (Caddy
// provisions an app before it validates it), so a bad config opens no store.
func (a *App) Validate() error { return errors.Join(a.configProblems()...) }

// configProblems lists every refused value of the config. A nil problem
// is dropped by errors.Join.
func (a *App) configProblems() []error {
	errs := []error{
		checkDatabase(a.Database),
		checkSessions(a.Sessions),
		checkSessionCache(time.Duration(a.SessionCache)),
		checkCount("max_sessions_per_user", a.MaxSessionsPerUser),
		checkCount("hash_concurrency", a.HashConcurrency),
		checkCount("session_cache_entries", a.SessionCacheEntries),
		checkCount("limit_keys", a.LimitKeys),
		checkLockout(a.Lockout),
	}
	if ck := a.Cookie; ck != nil {
		errs = append(errs, checkCookie(ck)...)
	}
	if a.HSTS != nil && a.HSTS.MaxAge < 0 {
		errs = append(errs, errors.New("caddyauth: hsts max-age cannot be negative"))
	}
	if len(a.RedirectHosts) > 0 {
		errs = append(errs, checkRedirectHosts(a.RedirectHosts))
	}
	for _, w := range a.ContextWords {
		errs = append(errs, checkContextWord(w))
	}
	if a.CORS != nil {
		for _, o := range a.CORS.Origins {
			errs = append(errs, checkCORSOrigin(o))
		}
	}
	errs = append(errs, checkTokens(a.Tokens)...)
	errs = append(errs, a.limitProblems()...)
	errs = append(errs, a.providerProblems()...)
	errs = append(errs, a.passwordResetProblems()...)
	errs = append(errs, a.passwordlessProblems()...)
	errs = append(errs, a.registrationProblems()...)
	errs = append(errs, a.passwordProblems()...)
	return append(errs, a.deliveryProblems()...)
}

// limitProblems judges the rate limits and the MFA policy.
func (a *App) limitProblems() []error {
	var errs []error
	if rl := a.RateLimit; rl != nil {
		for _, r := range []struct{ opt, v string }{
			{"login_ip", rl.LoginIP},
			{"login_identifier", rl.LoginIdentifier},
			{"mfa", rl.MFA},
			{"mfa_send", rl.MFASend},
			{"recovery_send_ip", rl.RecoverySendIP},
			{"recovery_send", rl.RecoverySend},
			{"recovery_check_ip", rl.RecoveryCheckIP},
			{"recovery_check", rl.RecoveryCheck},
			{"refresh_client", rl.RefreshClient},
			{"refresh_session", rl.RefreshSession},
			{"verify", rl.Verify},
		} {
			if r.v != "" {
				errs = append(errs, checkRate(r.opt, r.v))
			}
		}
	}
	if m := a.MFA; m != nil {
		errs = append(errs, checkMFAMethods(m.Methods), checkTrustedDevice(time.Duration(m.TrustedDevice)))
	}
	return errs
}

// providerProblems judges each identity provider and that no name is used
// twice (it keys the login URLs and the identities table).
func (a *App) providerProblems() []error {
	var errs []error
	seen := map[string]bool{}
	for _, o := range a.OAuth {
		if o == nil {
			continue
		}
		errs = append(errs, checkProvider(o))
		if seen[o.Name] {
			errs = append(errs, fmt.Errorf("caddyauth: identity provider %q configured twice", o.Name))
		}
		seen[o.Name] = true
	}
	return errs
}

// deliveryProblems judges the email and SMS senders and the audit webhook.
func (a *App) deliveryProblems() []error {
	var errs []error
	if a.Email != nil {
		errs = append(errs, checkSender("email", a.Email))
	}
	if a.SMS != nil {
		errs = append(errs, checkSender("sms", a.SMS))
	}
	if a.Audit != nil && a.Audit.Webhook != nil {
		errs = append(errs, checkAuditWebhook(a.Audit.Webhook))
	}
	return append(errs, checkOutbox(a.Outbox))
}

// checkBase refuses a portal base that is not an absolute path below /;
// directive names the handler in the message. Empty is the default.
func checkBase(directive, v string) error {
	if v != "" && (!strings.HasPrefix(v, "/") || flows.CleanBase(v) == "") {
		return fmt.Errorf("%s: base %q must be a path such as /auth", directive, v)
	}
	return nil
}

// checkDatabase refuses a driver the store cannot open.
func checkDatabase(db *DatabaseConfig) error {
	if db == nil {
		return nil
	}
	switch db.Driver {
	case "sqlite":
	case "postgres":
		if db.DSN == "" {
			return errors.New("caddyauth: database postgres needs a connection string")
		}
	default:
		return fmt.Errorf("caddyauth: unknown database driver %q (want sqlite or postgres)", db.Driver)
	}
	return nil
}

// checkSessions refuses an unknown session backend and a redis config
// that names no (or more than one) topology.
func checkSessions(s *SessionsConfig) error {
	if s == nil {
		return nil
	}
	switch s.Backend {
	case "", "database", "memory":
	case "redis":
		return checkRedis(s)
	default:
		return fmt.Errorf("caddyauth: unknown sessions backend %q (want database, redis or memory)", s.Backend)
	}
	return nil
}

// checkSessionCache: negative is off and zero the default; a longer cache
// would let a revoked session pass for longer than the documented bound.
func checkSessionCache(d time.Duration) error {
	if d > maxSessionCache {
		return errSessionCache
	}
	return nil
}

// checkCookie judges the cookie block; zero durations are the defaults.
func checkCookie(ck *CookieConfig) []error {
	var errs []error
	if ck.Name != "" && !validCookieName(ck.Name) {
		errs = append(errs, errCookieName(ck.Name))
	}
	if ck.Domain != "" {
		if err := checkCookieDomain(ck.Domain); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := parseSameSite(ck.SameSite); err != nil {
		errs = append(errs, err)
	}
	for _, d := range []struct {
		opt string
		v   time.Duration
	}{{"lifetime", time.Duration(ck.Lifetime)}, {"idle", time.Duration(ck.Idle)}} {
		if d.v != 0 {
			if err := checkCookieDuration(d.opt, d.v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if sameSiteNone(ck.SameSite) && ck.Insecure {
		errs = append(errs, errors.New("caddyauth: cookie same_site none needs a secure cookie (remove insecure)"))
	}
	return errs
}

func errCookieName(n string) error {
	return fmt.Errorf("caddyauth: cookie name %q has characters a cookie name cannot have", n)
}

// normalCookieDomain is the form the parser stores: lower case, without
// the leading dot browsers ignore.
func normalCookieDomain(v string) string { return strings.TrimPrefix(strings.ToLower(v), ".") }

// checkCookieDomain refuses a value that is not a bare domain name (a URL,
// a port, a wildcard), which browsers would drop or widen.
func checkCookieDomain(v string) error {
	if d := normalCookieDomain(v); d == "" || strings.ContainsAny(d, "/:*@ ") {
		return fmt.Errorf("caddyauth: cookie domain %q is not a domain name", v)
	}
	return nil
}

// checkCookieDuration: a lifetime or idle timeout under a second ends
// every session before it can be used.
func checkCookieDuration(opt string, d time.Duration) error {
	if d < minCookieDuration {
		return fmt.Errorf("caddyauth: cookie %s must be at least 1s", opt)
	}
	return nil
}

// checkCount refuses a negative count; zero is the default.
func checkCount(opt string, n int) error {
	if n < 0 {
		return fmt.Errorf("caddyauth: %s must be a positive integer, got %d", opt, n)
	}
	return nil
}

func checkRedirectHosts(hosts []string) error {
	if _, err := redirect.New(hosts, false); err != nil {
		return fmt.Errorf("caddyauth: redirect_hosts: %w", err)
	}
	return nil
}

func checkRate(opt, v string) error {
	if _, err := ratelimit.ParseRate(v); err != nil {
		return fmt.Errorf("caddyauth: rate_limit %s: %w", opt, err)
	}
	return nil
}

// checkLockout bounds the lockout unless it is off.
func checkLockout(lo *LockoutConfig) error {
	if lo == nil || lo.Off {
		return nil
	}
	var errs []error
	if lo.Max < 1 || lo.Max > maxLockoutFailure {
		errs = append(errs, fmt.Errorf("caddyauth: lockout failures must be 1..100 (NIST SP 800-63B caps consecutive failures at 100), got %d", lo.Max))
	}
	if lo.Window <= 0 || lo.Duration <= 0 {
		errs = append(errs, errLockoutTimes)
	}
	return errors.Join(errs...)
}

func checkMFAMethods(ms []string) error {
	for _, x := range ms {
		if !slices.Contains(flows.AllMFAMethods, x) {
			return fmt.Errorf("caddyauth: mfa methods: unknown method %q (want totp, email, sms or recovery)", x)
		}
	}
	return nil
}

// checkTrustedDevice: negative is off and zero the default.
func checkTrustedDevice(d time.Duration) error {
	if d > maxTrustedDays {
		return errTrustedDevice
	}
	return nil
}

// checkProvider judges an identity provider: a known kind, a name usable
// in URLs, and the credentials its kind needs. Errors name the Caddyfile
// option (oidc or oauth) the way the operator wrote it.
func checkProvider(o *OAuthProvider) error {
	opt := oauth.KindOIDC
	switch o.Kind {
	case oauth.KindOIDC:
	case oauth.KindGoogle, oauth.KindGitHub, oauth.KindFacebook, oauth.KindApple:
		opt = "oauth"
	default:
		return fmt.Errorf("caddyauth: unknown identity provider kind %q (want oidc, google, github, facebook or apple)", o.Kind)
	}
	switch {
	case !oauth.ValidName(o.Name):
		return fmt.Errorf("caddyauth: provider name %q: use 1-32 of a-z 0-9 _ -", o.Name)
	case o.ClientID == "":
		return fmt.Errorf("caddyauth: %s %s: client_id is required", opt, o.Name)
	case o.Kind == oauth.KindOIDC && o.Issuer == "":
		return fmt.Errorf("caddyauth: oidc %s: issuer is required", o.Name)
	case o.Kind == oauth.KindApple && (o.TeamID == "" || o.KeyID == "" || o.PrivateKeyFile == ""):
		return errors.New("caddyauth: oauth apple: team_id, key_id and private_key_file are required")
	case o.Kind != oauth.KindApple && o.ClientSecret == "":
		return fmt.Errorf("caddyauth: %s %s: client_secret is required", opt, o.Name)
	case o.HostedDomain != "" && o.Kind != oauth.KindGoogle:
		return errors.New("caddyauth: hosted_domain is a google option")
	}
	return nil
}

// checkSender judges an `email` or `sms` sender (opt names which) before
// anything is built from it: the transport must fit the channel and carry
// what it needs to deliver (a URL, a from address, a signing secret).
func checkSender(opt string, c *SenderConfig) error {
	switch c.Sender {
	case "log":
	case "smtp", "webhook":
		switch {
		case c.Sender == "smtp" && opt != "email":
			return fmt.Errorf("caddyauth: %s smtp: SMTP delivers email only; use %s webhook <url>", opt, opt)
		case c.URL == "":
			return fmt.Errorf("caddyauth: %s %s needs a URL", opt, c.Sender)
		case c.Sender == "smtp" && c.From == "":
			return fmt.Errorf("caddyauth: %s smtp needs a `from <address>` in its block", opt)
		case c.Sender == "webhook" && c.Secret == "":
			return fmt.Errorf("caddyauth: %s webhook needs a `secret <secret>` in its block (requests are signed with it)", opt)
		}
	default:
		return fmt.Errorf("caddyauth: unknown %s sender %q (want smtp, webhook or log)", opt, c.Sender)
	}
	if c.Plaintext && c.InsecureSkipVerify {
		return fmt.Errorf("caddyauth: %s smtp: plaintext and insecure_skip_verify exclude each other", opt)
	}
	return nil
}

// checkAuditWebhook: an audit copy must reach an http(s) receiver that can
// check each record's signature. A placeholder URL is judged when resolved.
func checkAuditWebhook(w *AuditWebhookConfig) error {
	if err := checkAuditWebhookURL(w.URL); err != nil {
		return err
	}
	if w.Secret == "" {
		return errors.New("caddyauth: audit webhook needs a block with `secret <secret>`: receivers check the X-Caddyauth-Signature of each record")
	}
	return nil
}

func checkAuditWebhookURL(raw string) error {
	if raw == "" {
		return errors.New("caddyauth: audit webhook needs a URL")
	}
	if u, err := url.Parse(raw); !strings.Contains(raw, "{") && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		return fmt.Errorf("caddyauth: audit webhook %q is not an http(s) URL", raw)
	}
	return nil
}

// checkCORSOrigin refuses a wildcard and anything but an exact origin.
func checkCORSOrigin(o string) error {
	if strings.Contains(o, "*") {
		return fmt.Errorf("caddyauth: cors origin %q: a wildcard with credentials would let any site act as the user; list each origin", o)
	}
	if _, err := flows.CanonicalOrigin(o); err != nil {
		return fmt.Errorf("caddyauth: cors origin %q: %w", o, err)
	}
	return nil
}

package caddyauth

import (
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddyauth/gateway/internal/keys"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("caddyauth", parseAppOption)
	// auth_portal takes a base path, not a matcher: registered as a plain
	// directive so "/auth" is not read as a path matcher.
	httpcaddyfile.RegisterDirective("auth_portal", func(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
		p, err := parsePortal(h)
		if err != nil {
			return nil, err
		}
		return h.NewRoute(nil, p), nil
	})
	httpcaddyfile.RegisterDirective("protect", protectDirective)
	// The portal first, then protect, both before Caddy's own basic_auth:
	// authentication runs before anything that reads identity.
	httpcaddyfile.RegisterDirectiveOrder("auth_portal", httpcaddyfile.Before, "basic_auth")
	httpcaddyfile.RegisterDirectiveOrder("protect", httpcaddyfile.Before, "basic_auth")
}

// parseAppOption parses the global option:
//
//	caddyauth {
//	    secret <secret>                 # or: secret_file <path>
//	    previous_secret <secret>
//	    database sqlite [<path>] | postgres <dsn>
//	    sessions database | redis <url> | redis { ... } | memory  # see parseSessionsRedis
//	    session_cache <duration>|off    # default 5s, at most 5s
//	    session_cache_entries <n>       # default 100000 cached sessions
//	    limit_keys <n>                  # default 100000 keys per in-process bucket and lockout
//	    cookie {
//	        name <name>
//	        domain <domain>
//	        same_site lax|strict|none
//	        lifetime <duration>
//	        idle <duration>
//	        insecure
//	    }
//	    max_sessions_per_user <n>
//	    tokens { issuer <name>  access_lifetime <d>  assertion_lifetime <d> }
//	    hsts off | [<max-age>] [include_subdomains|no_subdomains] [preload]
//	    redirect_hosts <host[:port]...>
//	    hash_concurrency <n>
//	    rate_limit off | {
//	        login_ip <n>/<duration>|off
//	        login_identifier <n>/<duration>|off
//	        mfa, mfa_send, refresh_client, refresh_session, verify <n>/<duration>|off
//	    }
//	    lockout off | <failures> <window> <duration>
//	    cors {
//	        origins <origin...>
//	    }
//	    audit {
//	        file <path>
//	        webhook <url> {
//	            secret <secret>
//	        }
//	    }
//	    oidc <name> { ... }         # identity providers: see parseOAuth
//	    oauth google|github|facebook|apple { ... }
//	    email smtp|webhook <url> { ... } | email log   # see parseSender
//	    sms webhook <url> { secret <secret> } | sms log
//	    message_templates <dir>
//	    password_reset off | password_reset { ttl 15m }
//	    passwordless email [sms] [{ ttl 10m }]
//	    account { export on|off  delete on|off }   # account.go; default on
//	    registration on|off [{ domains <d>...  disposable block|flag|off  disposable_file <path>  approval }]   # registration.go
//	    password { breach_check <url> [{ timeout 2s  on_error allow|refuse }] }   # breach.go
//	}
func parseAppOption(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("caddyauth: the global option may appear only once")
	}
	app := new(App)
	d.Next() // option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for d.NextBlock(0) {
		opt := d.Val()
		switch opt {
		case "secret", "previous_secret", "secret_file":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			// A literal secret, braces or not, is checked here so the error
			// names its line; a placeholder is checked when it resolves, at
			// start. Neither error prints the value.
			if opt != "secret_file" && !isPlaceholder(v) {
				if mixesPlaceholder(v) {
					return nil, d.Err(errMixedPlaceholder(opt).Error())
				}
				if err := keys.CheckSecret(v); err != nil {
					return nil, d.Errf("caddyauth: %s: %v", opt, err)
				}
			}
			switch opt {
			case "secret":
				app.Secret = v
			case "previous_secret":
				app.PreviousSecret = v
			default:
				app.SecretFile = v
			}
		case "database":
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			db := &DatabaseConfig{Driver: d.Val()}
			if d.NextArg() {
				db.DSN = d.Val()
			}
			if err := checkDatabase(db); err != nil {
				return nil, d.Err(err.Error())
			}
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			app.Database = db
		case "sessions":
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			s := &SessionsConfig{Backend: d.Val()}
			switch s.Backend {
			case "database", "memory":
			case "redis":
				if err := parseSessionsRedis(d, s); err != nil {
					return nil, err
				}
			default:
				return nil, d.Errf("caddyauth: unknown sessions backend %q (want database, redis or memory)", s.Backend)
			}
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			app.Sessions = s
		case "session_cache":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			if v == "off" {
				app.SessionCache = caddy.Duration(-1)
				break
			}
			dur, err := duration(d, opt, v)
			if err != nil {
				return nil, err
			}
			if dur <= 0 || checkSessionCache(dur) != nil {
				return nil, d.Err(errSessionCache.Error())
			}
			app.SessionCache = caddy.Duration(dur)
		case "cookie":
			c, err := parseCookie(d)
			if err != nil {
				return nil, err
			}
			app.Cookie = c
		case "tokens":
			c, err := parseTokens(d)
			if err != nil {
				return nil, err
			}
			app.Tokens = c
		case "context_words":
			words := d.RemainingArgs()
			if len(words) == 0 {
				return nil, d.Err("caddyauth: context_words needs at least one word (your company or product name)")
			}
			for _, w := range words {
				if err := checkContextWord(w); err != nil {
					return nil, d.Err(err.Error())
				}
			}
			app.ContextWords = append(app.ContextWords, words...)
		case "max_sessions_per_user", "hash_concurrency", "session_cache_entries", "limit_keys":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, d.Errf("caddyauth: %s must be a positive integer, got %q", opt, v)
			}
			switch opt {
			case "max_sessions_per_user":
				app.MaxSessionsPerUser = n
			case "hash_concurrency":
				app.HashConcurrency = n
			case "session_cache_entries":
				app.SessionCacheEntries = n
			default:
				app.LimitKeys = n
			}
		case "hsts":
			h, err := parseHSTS(d)
			if err != nil {
				return nil, err
			}
			app.HSTS = h
		case "rate_limit":
			rl, err := parseRateLimit(d)
			if err != nil {
				return nil, err
			}
			app.RateLimit = rl
		case "lockout":
			lo, err := parseLockout(d)
			if err != nil {
				return nil, err
			}
			app.Lockout = lo
		case "mfa":
			m, err := parseMFA(d)
			if err != nil {
				return nil, err
			}
			app.MFA = m
		case "cors":
			c, err := parseCORS(d)
			if err != nil {
				return nil, err
			}
			app.CORS = c
		case "audit":
			au, err := parseAudit(d)
			if err != nil {
				return nil, err
			}
			app.Audit = au
		case "oidc", "oauth":
			o, err := parseOAuth(d, opt)
			if err != nil {
				return nil, err
			}
			app.OAuth = append(app.OAuth, o)
		case "email", "sms":
			c, err := parseSender(d, opt)
			if err != nil {
				return nil, err
			}
			if opt == "email" {
				app.Email = c
			} else {
				app.SMS = c
			}
		case "passwordless":
			c, err := parsePasswordless(d)
			if err != nil {
				return nil, err
			}
			app.Passwordless = c
		case "account":
			c, err := parseAccount(d)
			if err != nil {
				return nil, err
			}
			app.Account = c
		case "require":
			// `require verified_email`: the default of every protect and
			// verify line.
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			if v != "verified_email" {
				return nil, d.Errf("caddyauth: require %q: only `require verified_email` is a global default (`require mfa` belongs to protect, or `mfa { required }`)", v)
			}
			app.RequireVerifiedEmail = true
		case "registration":
			c, err := parseRegistration(d)
			if err != nil {
				return nil, err
			}
			app.Registration = c
		case "password_reset":
			c, err := parsePasswordReset(d)
			if err != nil {
				return nil, err
			}
			app.PasswordReset = c
		case "password":
			if app.Password != nil {
				return nil, d.Err("caddyauth: the password option may appear only once")
			}
			c, err := parsePassword(d)
			if err != nil {
				return nil, err
			}
			app.Password = c
		case "message_templates":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			app.MessageTemplates = v
		case "outbox":
			c, err := parseOutbox(d)
			if err != nil {
				return nil, err
			}
			app.Outbox = c
		case "redirect_hosts":
			hosts := d.RemainingArgs()
			if len(hosts) == 0 {
				return nil, d.ArgErr()
			}
			if err := checkRedirectHosts(hosts); err != nil {
				return nil, d.Err(err.Error())
			}
			app.RedirectHosts = append(app.RedirectHosts, hosts...)
		default:
			return nil, d.Errf("caddyauth: unknown option %q", opt)
		}
	}
	return httpcaddyfile.App{Name: "caddyauth", Value: caddyconfig.JSON(app, nil)}, nil
}

func parseCookie(d *caddyfile.Dispenser) (*CookieConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	c := new(CookieConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch opt {
		case "insecure":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			c.Insecure = true
			continue
		case "name", "domain", "same_site", "lifetime", "idle":
		default:
			return nil, d.Errf("caddyauth: unknown cookie option %q", opt)
		}
		v, err := oneArg(d)
		if err != nil {
			return nil, err
		}
		switch opt {
		case "name":
			if !validCookieName(v) {
				return nil, d.Err(errCookieName(v).Error())
			}
			c.Name = v
		case "domain":
			if err := checkCookieDomain(v); err != nil {
				return nil, d.Err(err.Error())
			}
			c.Domain = normalCookieDomain(v)
		case "same_site":
			v = strings.ToLower(v)
			if _, err := parseSameSite(v); err != nil || v == "" {
				return nil, d.Errf("caddyauth: cookie same_site %q: want lax, strict or none", v)
			}
			c.SameSite = v
		case "lifetime", "idle":
			dur, err := duration(d, "cookie "+opt, v)
			if err != nil {
				return nil, err
			}
			if err := checkCookieDuration(opt, dur); err != nil {
				return nil, d.Err(err.Error())
			}
			if opt == "lifetime" {
				c.Lifetime = caddy.Duration(dur)
			} else {
				c.Idle = caddy.Duration(dur)
			}
		}
	}
	return c, nil
}

func parseRateLimit(d *caddyfile.Dispenser) (*RateLimitConfig, error) {
	rl := new(RateLimitConfig)
	if d.NextArg() {
		if d.Val() != "off" || d.NextArg() {
			return nil, d.Err("caddyauth: rate_limit takes `off` or a block")
		}
		rl.Off = true
		return rl, nil
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch opt {
		case "login_ip", "login_identifier", "mfa", "mfa_send", "recovery_send_ip", "recovery_send", "recovery_check_ip", "recovery_check", "refresh_client", "refresh_session", "verify":
		default:
			return nil, d.Errf("caddyauth: unknown rate_limit bucket %q (want login_ip, login_identifier, mfa, mfa_send, recovery_send_ip, recovery_send, recovery_check_ip, recovery_check, refresh_client, refresh_session or verify)", opt)
		}
		v, err := oneArg(d)
		if err != nil {
			return nil, err
		}
		if err := checkRate(opt, v); err != nil {
			return nil, d.Err(err.Error())
		}
		switch opt {
		case "login_ip":
			rl.LoginIP = v
		case "login_identifier":
			rl.LoginIdentifier = v
		case "mfa":
			rl.MFA = v
		case "mfa_send":
			rl.MFASend = v
		case "recovery_send_ip":
			rl.RecoverySendIP = v
		case "recovery_send":
			rl.RecoverySend = v
		case "recovery_check_ip":
			rl.RecoveryCheckIP = v
		case "recovery_check":
			rl.RecoveryCheck = v
		case "refresh_client":
			rl.RefreshClient = v
		case "refresh_session":
			rl.RefreshSession = v
		case "verify":
			rl.Verify = v
		}
	}
	return rl, nil
}

// parseMFA: mfa { required  methods totp email sms recovery
// trusted_device 14d|off  trust_cookie <name>  trust_header <name>  issuer <s> }.
func parseMFA(d *caddyfile.Dispenser) (*MFAConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	m := new(MFAConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "required":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			m.Required = true
		case "methods":
			ms := d.RemainingArgs()
			if len(ms) == 0 {
				return nil, d.ArgErr()
			}
			if err := checkMFAMethods(ms); err != nil {
				return nil, d.Err(err.Error())
			}
			m.Methods = ms
		case "trusted_device":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			if v == "off" {
				m.TrustedDevice = caddy.Duration(-1)
				break
			}
			dur, err := duration(d, "mfa trusted_device", v)
			if err != nil {
				return nil, err
			}
			if dur <= 0 || checkTrustedDevice(dur) != nil {
				return nil, d.Err(errTrustedDevice.Error())
			}
			m.TrustedDevice = caddy.Duration(dur)
		case "trust_cookie", "trust_header", "issuer":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			switch opt {
			case "trust_cookie":
				m.TrustCookie = v
			case "trust_header":
				m.TrustHeader = v
			default:
				m.Issuer = v
			}
		default:
			return nil, d.Errf("caddyauth: mfa: unknown option %q", opt)
		}
	}
	return m, nil
}

func parseCORS(d *caddyfile.Dispenser) (*CORSConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	c := new(CORSConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "origins":
			origins := d.RemainingArgs()
			if len(origins) == 0 {
				return nil, d.ArgErr()
			}
			for _, o := range origins {
				if err := checkCORSOrigin(o); err != nil {
					return nil, d.Err(err.Error())
				}
			}
			c.Origins = append(c.Origins, origins...)
		default:
			return nil, d.Errf("caddyauth: unknown cors option %q", opt)
		}
	}
	return c, nil
}

func parseLockout(d *caddyfile.Dispenser) (*LockoutConfig, error) {
	args := d.RemainingArgs()
	if len(args) == 1 && args[0] == "off" {
		return &LockoutConfig{Off: true}, nil
	}
	if len(args) != 3 {
		return nil, d.Err("caddyauth: lockout takes `off` or <failures> <window> <duration>, e.g. lockout 10 15m 15m")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 || n > maxLockoutFailure {
		return nil, d.Errf("caddyauth: lockout failures must be 1..100 (NIST SP 800-63B caps consecutive failures at 100), got %q", args[0])
	}
	window, err := duration(d, "lockout window", args[1])
	if err != nil {
		return nil, err
	}
	dur, err := duration(d, "lockout duration", args[2])
	if err != nil {
		return nil, err
	}
	if window <= 0 || dur <= 0 {
		return nil, d.Err(errLockoutTimes.Error())
	}
	return &LockoutConfig{Max: n, Window: caddy.Duration(window), Duration: caddy.Duration(dur)}, nil
}

func parseHSTS(d *caddyfile.Dispenser) (*HSTSConfig, error) {
	h := new(HSTSConfig)
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.ArgErr()
	}
	for i, a := range args {
		switch a {
		case "off":
			if len(args) != 1 {
				return nil, d.Err("caddyauth: hsts off takes no other arguments")
			}
			h.Off = true
		case "include_subdomains", "no_subdomains":
			v := a == "include_subdomains"
			h.IncludeSubdomains = &v
		case "preload":
			h.Preload = true
		default:
			if i != 0 {
				return nil, d.Errf("caddyauth: unknown hsts argument %q", a)
			}
			dur, err := duration(d, "hsts", a)
			if err != nil {
				return nil, err
			}
			if dur < 0 {
				return nil, d.Err("caddyauth: hsts max-age cannot be negative")
			}
			h.MaxAge = caddy.Duration(dur)
		}
	}
	return h, nil
}

// protectDirective wraps parseProtect. A matcher (`protect /admin*`) is
// handed to the handler instead of the route, so the handler still sees
// every request: it strips identity headers everywhere and serves the
// portal base path even when the matcher would not cover it.
func protectDirective(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	if !h.Next() {
		return nil, h.ArgErr()
	}
	ms, err := h.ExtractMatcherSet()
	if err != nil {
		return nil, err
	}
	mh, err := parseProtect(h)
	if err != nil {
		return nil, err
	}
	if ms != nil {
		mh.(*Protect).MatchRaw = caddyhttp.RawMatcherSets{ms}
	}
	return h.NewRoute(nil, mh), nil
}

func oneArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

func duration(d *caddyfile.Dispenser, opt, v string) (time.Duration, error) {
	dur, err := caddy.ParseDuration(v)
	if err != nil {
		return 0, d.Errf("caddyauth: %s: bad duration %q (use e.g. 30m, 12h, 14d)", opt, v)
	}
	return dur, nil
}

func validCookieName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

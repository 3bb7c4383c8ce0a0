package caddyauth

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddyauth/gateway/flows"
)

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
		// at once. While the bus reports its connection lost every request
		// is verified with the store; after a resubscription the cache is
		// emptied (messages may have been missed) and trusted again.
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			bus.SubscribeRevoked(ctx, a.sessions.Forget,
				func() { a.sessions.FlushCache(); a.sessions.BypassCache(false) },
				func() { a.sessions.BypassCache(true) })
		}()
	}
	a.startNotify(ctx)
	a.logStartup(ctx)
	a.checkTrustHeader()
	a.checkAPIKeyLogging()
	return nil
}

// checkAPIKeyLogging warns when a server writes access logs: Caddy clones
// each request for its access log before any handler runs and redacts
// only Cookie, Set-Cookie, Authorization and Proxy-Authorization, so an
// API key sent in X-API-Key reaches the log in clear unless the log's
// filter deletes that header. Keys in Authorization: Bearer are redacted.
func (a *App) checkAPIKeyLogging() {
	var logging []string
	for srvName, srv := range a.httpServers() {
		if srv.Logs != nil {
			logging = append(logging, srvName)
		}
	}
	if len(logging) > 0 {
		slices.Sort(logging)
		a.logger.Warn("access logs write request headers: an API key sent as X-API-Key is logged in clear unless the log's format filter deletes it (`request>headers>X-Api-Key delete`); keys sent as Authorization: Bearer are redacted by Caddy",
			zap.Strings("servers", logging))
	}
}

// httpServers are the servers of the configured http app (none when
// there is no http app, as in the CLI).
func (a *App) httpServers() map[string]*caddyhttp.Server {
	if a.caddyCtx.Context == nil {
		return nil
	}
	raw, err := a.caddyCtx.AppIfConfigured("http")
	if err != nil {
		return nil
	}
	httpApp, ok := raw.(*caddyhttp.App)
	if !ok {
		return nil
	}
	return httpApp.Servers
}

// checkTrustHeader warns when Caddy will drop the trusted-device header:
// since 2.11 Caddy drops request headers whose names contain underscores
// unless a server lists them in expected_underscore_headers.
func (a *App) checkTrustHeader() {
	name := a.service.TrustHeader()
	if !strings.Contains(name, "_") {
		return
	}
	var dropping []string
	for srvName, srv := range a.httpServers() {
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
		zap.String("breach_check", a.describeBreachCheck()),
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

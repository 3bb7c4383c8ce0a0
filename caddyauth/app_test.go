package caddyauth

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyauth/gateway/internal/session"
)

func provision(t *testing.T, a *App) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if a.Database == nil {
		a.Database = &DatabaseConfig{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "users.db")}
	}
	err := a.Provision(ctx)
	if err == nil {
		err = a.Validate()
		t.Cleanup(func() { _ = a.Cleanup() })
	}
	return err
}

func TestSecretRequired(t *testing.T) {
	t.Setenv("CADDYAUTH_TEST_SECRET", "")
	for _, tc := range []struct {
		app  *App
		want string
	}{
		{&App{}, "no secret configured"},
		{&App{Secret: "{env.CADDYAUTH_TEST_SECRET}"}, "{env.CADDYAUTH_TEST_SECRET} is empty"},
		{&App{Secret: "too-short"}, "at least 32 bytes"},
		{&App{Secret: strings.Repeat("ab", 20)}, "too little variety"},
		{&App{Secret: "gm3uMXVSHuIziiIGqzSukSKdlldgsZPy_MB8kiBIID4", PreviousSecret: "short"}, "previous_secret"},
		{&App{SecretFile: "/nonexistent/secret"}, "secret_file"},
		{&App{Secret: "gm3uMXVSHuIziiIGqzSukSKdlldgsZPy_MB8kiBIID4", Sessions: &SessionsConfig{Backend: "mongo"}}, "unknown sessions backend"},
		{&App{Secret: "gm3uMXVSHuIziiIGqzSukSKdlldgsZPy_MB8kiBIID4", Database: &DatabaseConfig{Driver: "postgres", DSN: "postgres://x"}}, "postgres"},
	} {
		err := provision(t, tc.app)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("case %q: got %v", tc.want, err)
		}
	}
}

func TestProvisionFromEnv(t *testing.T) {
	t.Setenv("CADDYAUTH_TEST_SECRET", "gm3uMXVSHuIziiIGqzSukSKdlldgsZPy_MB8kiBIID4")
	a := &App{Secret: "{env.CADDYAUTH_TEST_SECRET}", Sessions: &SessionsConfig{Backend: "memory"}, Cookie: &CookieConfig{Domain: "example.com"}}
	if err := provision(t, a); err != nil {
		t.Fatal(err)
	}
	if a.service.CookieName() != "__Secure-caddyauth" {
		t.Fatalf("cookie %q", a.service.CookieName())
	}
	if got := a.hstsValue(); got != "max-age=31536000; includeSubDomains" {
		t.Fatalf("hsts %q", got)
	}
}

func TestHSTSValue(t *testing.T) {
	no := false
	for _, tc := range []struct {
		h    *HSTSConfig
		want string
	}{
		{nil, "max-age=31536000; includeSubDomains"},
		{&HSTSConfig{Off: true}, ""},
		{&HSTSConfig{MaxAge: caddy.Duration(3600e9), IncludeSubdomains: &no, Preload: true}, "max-age=3600; preload"},
	} {
		if got := (&App{HSTS: tc.h}).hstsValue(); got != tc.want {
			t.Errorf("%+v: %q", tc.h, got)
		}
	}
}

func TestLimitsFromConfig(t *testing.T) {
	l, err := (&App{}).limits()
	if err != nil || l.LoginIdentifier.N != 5 || l.LoginIP.N != 20 || l.LockoutMax != 10 {
		t.Fatalf("defaults: %+v %v", l, err)
	}
	l, _ = (&App{RateLimit: &RateLimitConfig{LoginIP: "7/1h"}, Lockout: &LockoutConfig{Off: true}}).limits()
	if l.LoginIP.N != 7 || l.LoginIdentifier.N != 5 || l.LockoutMax != 0 {
		t.Fatalf("override: %+v", l)
	}
	l, _ = (&App{RateLimit: &RateLimitConfig{Off: true}}).limits()
	if !l.LoginIP.Off() || !l.LoginIdentifier.Off() || l.LockoutMax != 10 {
		t.Fatalf("off: %+v", l)
	}
	if _, err := (&App{RateLimit: &RateLimitConfig{LoginIP: "fast"}}).limits(); err == nil {
		t.Fatal("bad rate accepted")
	}
}

func TestCookieWarnings(t *testing.T) {
	day := caddy.Duration(24 * time.Hour)
	for _, tc := range []struct {
		name string
		ck   CookieConfig
		want []string
	}{
		{"defaults", CookieConfig{}, nil},
		{"strict and short", CookieConfig{SameSite: "strict", Lifetime: day, Idle: caddy.Duration(time.Hour)}, nil},
		{"same_site none", CookieConfig{SameSite: "none"}, []string{"same_site none"}},
		{"same_site None from JSON", CookieConfig{SameSite: "None"}, []string{"same_site none"}},
		{"same_site NONE", CookieConfig{SameSite: "NONE"}, []string{"same_site none"}},
		{"a year", CookieConfig{Lifetime: 365 * day, Idle: day}, []string{"longer than 30 days"}},
		{"idle past lifetime", CookieConfig{Lifetime: caddy.Duration(time.Hour), Idle: caddy.Duration(2 * time.Hour)}, []string{"idle timeout never ends"}},
		{"idle past the default lifetime", CookieConfig{Idle: 2 * day}, []string{"idle timeout never ends"}},
		{"idle at the default lifetime", CookieConfig{Idle: caddy.Duration(session.DefaultLifetime)}, []string{"idle timeout never ends"}},
		{"lifetime at the default idle", CookieConfig{Lifetime: caddy.Duration(session.DefaultIdle)}, []string{"idle timeout never ends"}},
		{"lifetime just past the default idle", CookieConfig{Lifetime: caddy.Duration(session.DefaultIdle + time.Minute)}, nil},
	} {
		got := cookieWarnings(&tc.ck)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %q, want %d warnings", tc.name, got, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: %q lacks %q", tc.name, got[i], w)
			}
		}
	}
}

// TestSecretOptionNeverEchoesLiteral: a start-up error names a placeholder
// so the operator knows what to fix, but never prints a literal secret, even
// one that contains braces.
func TestSecretOptionNeverEchoesLiteral(t *testing.T) {
	for _, tc := range []struct{ v, want string }{
		{"{env.CADDYAUTH_SECRET}", "secret {env.CADDYAUTH_SECRET}"},
		{"{file./run/secrets/caddyauth}", "secret {file./run/secrets/caddyauth}"},
		{"abc{def}", "secret"},
		{"{abc}", "secret"},
		{"{env.A}{env.B}", "secret"},
		{"x{env.CADDYAUTH_SECRET}", "secret"},
		{"0123456789abcdefghij{klmnopqrstuvwxyz", "secret"},
		{"0123456789abcdefghij", "secret"},
	} {
		if got := secretOption("secret", tc.v); got != tc.want {
			t.Errorf("secretOption(%q) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// TestLiteralSecretWithBraces: a literal secret containing braces is used as
// written, and a failing one is reported without its value.
func TestLiteralSecretWithBraces(t *testing.T) {
	a := &App{Secret: "abc{def}-gm3uMXVSHuIziiIGqzSukSKdlldgsZPy_MB8kiBIID4", Sessions: &SessionsConfig{Backend: "memory"}}
	if err := provision(t, a); err != nil {
		t.Fatalf("literal secret with braces refused: %v", err)
	}
	for _, v := range []string{"abc{def}", "tooshort{x}"} {
		err := provision(t, &App{Secret: v, Sessions: &SessionsConfig{Backend: "memory"}})
		if err == nil {
			t.Fatalf("%q accepted", v)
		}
		if strings.Contains(err.Error(), v) || strings.Contains(err.Error(), "def") || strings.Contains(err.Error(), "{x}") {
			t.Errorf("error echoes the literal: %v", err)
		}
	}
	err := provision(t, &App{Secret: "{env.A}-{env.B}-0123456789abcdefghijklmnop", Sessions: &SessionsConfig{Backend: "memory"}})
	if err == nil || !strings.Contains(err.Error(), "whole value") {
		t.Errorf("placeholder mixed with text: %v", err)
	}
}

// TestValidateSameSiteNoneInsecure: same_site none needs a secure cookie,
// however the JSON config spells none (parseSameSite ignores case).
func TestValidateSameSiteNoneInsecure(t *testing.T) {
	for _, v := range []string{"none", "None", "NONE"} {
		err := (&App{Cookie: &CookieConfig{SameSite: v, Insecure: true}}).Validate()
		if err == nil || !strings.Contains(err.Error(), "same_site none needs a secure cookie") {
			t.Errorf("same_site %q insecure: %v", v, err)
		}
		if err := (&App{Cookie: &CookieConfig{SameSite: v}}).Validate(); err != nil {
			t.Errorf("same_site %q secure: %v", v, err)
		}
	}
	if err := (&App{Cookie: &CookieConfig{SameSite: "Lax", Insecure: true}}).Validate(); err != nil {
		t.Errorf("same_site Lax insecure: %v", err)
	}
}

// TestValidateContextWords: the JSON config gets the same 4-character
// minimum as the Caddyfile, instead of the policy silently ignoring a
// shorter word.
func TestValidateContextWords(t *testing.T) {
	for _, tc := range []struct {
		words []string
		bad   string
	}{
		{[]string{"acme", "Ünïc"}, ""},
		{[]string{"acme", "io"}, `"io"`},
		{[]string{"abc"}, `"abc"`},
		{[]string{""}, `""`},
		{[]string{" ab "}, `" ab "`},
	} {
		err := (&App{ContextWords: tc.words}).Validate()
		switch {
		case tc.bad == "" && err != nil:
			t.Errorf("%q refused: %v", tc.words, err)
		case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), "context_words") || !strings.Contains(err.Error(), tc.bad)):
			t.Errorf("%q: got %v, want an error naming context_words and %s", tc.words, err, tc.bad)
		}
	}
}

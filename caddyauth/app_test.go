package caddyauth

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
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

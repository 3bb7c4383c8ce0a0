package caddyauth

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/session"
)

// TestConfigWarnings: a secret written in the config and a trusted device
// longer than 30 days warn; placeholders, secret_file and 30 days do not.
// No warning holds the secret.
func TestConfigWarnings(t *testing.T) {
	lit := keys.NewToken()
	day := caddy.Duration(24 * time.Hour)
	for _, tc := range []struct {
		name string
		app  *App
		want []string
	}{
		{"placeholder", &App{Secret: "{env.CADDYAUTH_SECRET}"}, nil},
		{"file placeholder", &App{Secret: "{file./run/secrets/caddyauth}", PreviousSecret: "{env.OLD}"}, nil},
		{"secret_file", &App{SecretFile: "/run/secrets/caddyauth"}, nil},
		{"literal", &App{Secret: lit}, []string{"secret is written in the config"}},
		{"literal with braces", &App{Secret: "{" + lit + "}"}, []string{"secret is written in the config"}},
		{"literal previous", &App{Secret: "{env.X}", PreviousSecret: lit}, []string{"previous_secret is written in the config"}},
		{"30 days", &App{SecretFile: "x", MFA: &MFAConfig{TrustedDevice: 30 * day}}, nil},
		{"31 days", &App{SecretFile: "x", MFA: &MFAConfig{TrustedDevice: 31 * day}}, []string{"trusted_device 744h0m0s is longer than 30 days"}},
		{"off", &App{SecretFile: "x", MFA: &MFAConfig{TrustedDevice: -1}}, nil},
		{"pg dsn placeholder", &App{SecretFile: "x", Database: &DatabaseConfig{Driver: "postgres", DSN: "{env.PG_DSN}"}}, nil},
		{"pg password placeholder", &App{SecretFile: "x", Database: &DatabaseConfig{Driver: "postgres", DSN: "postgres://caddy:{env.PGPW}@db/auth"}}, nil},
		{"pg no password", &App{SecretFile: "x", Database: &DatabaseConfig{Driver: "postgres", DSN: "postgres://caddy@db/auth?sslmode=verify-full"}}, nil},
		{"pg url password", &App{SecretFile: "x", Database: &DatabaseConfig{Driver: "postgres", DSN: "postgres://caddy:" + lit + "@db/auth"}}, []string{"database postgres has a password written in the config"}},
		{"pg keyword password", &App{SecretFile: "x", Database: &DatabaseConfig{Driver: "postgres", DSN: "host=db user=caddy password=" + lit}}, []string{"database postgres has a password written in the config"}},
	} {
		got := tc.app.configWarnings()
		if len(got) != len(tc.want) {
			t.Errorf("%s: %q, want %d warnings", tc.name, got, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) || strings.Contains(got[i], lit) {
				t.Errorf("%s: %q lacks %q (or holds the secret)", tc.name, got[i], w)
			}
		}
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

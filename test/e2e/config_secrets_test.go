package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// TestConfigSecretEntropy: a master secret of the right length that a
// person made up ("abcdefgh" four times, a hex sequence) refuses to start,
// whether written in the Caddyfile (adapt names the line), given by an
// {env.*} placeholder or read from secret_file; the message names where it
// came from and never the value.
func TestConfigSecretEntropy(t *testing.T) {
	t.Parallel()
	bin := harness.BuildBinary(t)
	weak, seq := strings.Repeat("abcdefgh", 4), "0123456789abcdef0123456789abcdef"
	harness.Sensitive(weak, seq)

	t.Run("literal", func(t *testing.T) {
		t.Parallel()
		cfg := harness.WriteCaddyfile(t, badConfig(t, weak, []string{"sessions memory"}, nil))
		out, errOut, code := harness.RunCLI(t, bin, "", "adapt", "--config", cfg, "--adapter", "caddyfile")
		all := unescape(out + errOut)
		if code == 0 || !strings.Contains(all, "too little entropy") || !strings.Contains(all, "Caddyfile:4") {
			t.Fatalf("adapt: exit %d\n%s", code, all)
		}
		logs, _ := harness.RunCaddyExpectFailure(t, bin, readFile(t, cfg), 15*time.Second)
		if !strings.Contains(unescape(logs), "too little entropy") {
			t.Errorf("caddy run output lacks the reason:\n%s", logs)
		}
	})
	t.Run("placeholder", func(t *testing.T) {
		t.Parallel()
		logs, _ := harness.RunCaddyExpectFailure(t, bin, badConfig(t, "{env.CADDYAUTH_E2E_WEAK_SECRET}", []string{"sessions memory"}, nil),
			15*time.Second, "CADDYAUTH_E2E_WEAK_SECRET="+weak)
		logs = unescape(logs)
		for _, w := range []string{"secret {env.CADDYAUTH_E2E_WEAK_SECRET}", "too little entropy", "caddy auth secret generate"} {
			if !strings.Contains(logs, w) {
				t.Errorf("caddy run output lacks %q:\n%s", w, logs)
			}
		}
	})
	t.Run("secret_file", func(t *testing.T) {
		t.Parallel()
		p := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(p, []byte(seq+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		good := harness.RandomSecret()
		cf := strings.Replace(badConfig(t, good, []string{"sessions memory"}, nil), "secret "+good, "secret_file "+p, 1)
		logs, _ := harness.RunCaddyExpectFailure(t, bin, cf, 15*time.Second)
		logs = unescape(logs)
		for _, w := range []string{"secret_file " + p, "too little entropy"} {
			if !strings.Contains(logs, w) {
				t.Errorf("caddy run output lacks %q:\n%s", w, logs)
			}
		}
	})
}

const (
	warnLiteralSecret = "secret is written in the config"
	warnLongTrust     = "trusted_device 1440h0m0s is longer than 30 days"
)

// TestConfigStartupWarnings: a secret written in the Caddyfile and a
// trusted device longer than 30 days start, with a warning each that names
// the option and not the value (start() checks the secret is not logged).
func TestConfigStartupWarnings(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, "mfa {", "\ttrusted_device 60d", "}")
	})
	g.start()
	for _, w := range []string{warnLiteralSecret, warnLongTrust} {
		if e := g.caddy.WaitLog(w, 5*time.Second); e["level"] != "warn" {
			t.Errorf("%q logged at %v", w, e["level"])
		}
	}
}

// TestConfigStartupNoWarnings: a placeholder secret and the default trusted
// device do not warn.
func TestConfigStartupNoWarnings(t *testing.T) {
	t.Parallel()
	secret := harness.RandomSecret()
	harness.Sensitive(secret)
	harness.Setenv(t, "CADDYAUTH_E2E_SECRET", secret)
	g := newGateway(t, func(c *harness.GatewayConfig) { c.Secret = "{env.CADDYAUTH_E2E_SECRET}" })
	g.start()
	g.caddy.WaitLog("caddyauth ready", 5*time.Second)
	for _, w := range []string{warnLiteralSecret, "trusted_device"} {
		if strings.Contains(g.caddy.Logs(), w) {
			t.Errorf("warning %q without cause", w)
		}
	}
}

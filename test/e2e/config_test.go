package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// badConfig renders a Caddyfile whose caddyauth block holds appLines and
// whose protect block holds protectLines. Line numbers are fixed: the
// first app line is line 5, the first protect line is line 5 + len(appLines) + 5.
func badConfig(t *testing.T, secret string, appLines, protectLines []string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("{\n")                                           // 1
	fmt.Fprintf(&b, "\tadmin 127.0.0.1:%d\n", harness.FreePort(t)) // 2
	b.WriteString("\tcaddyauth {\n")                               // 3
	fmt.Fprintf(&b, "\t\tsecret %s\n", secret)                     // 4
	for _, l := range appLines {                                   // 5...
		fmt.Fprintf(&b, "\t\t%s\n", l)
	}
	b.WriteString("\t}\n}\n\n")                                     // +1 +2 +3
	fmt.Fprintf(&b, "http://localhost:%d {\n", harness.FreePort(t)) // +4
	b.WriteString("\tprotect {\n")                                  // +5
	for _, l := range protectLines {                                // +6...
		fmt.Fprintf(&b, "\t\t%s\n", l)
	}
	b.WriteString("\t}\n\trespond ok\n}\n")
	return b.String()
}

// TestConfigErrors (l): bad configuration refuses to start with a message
// naming the problem (and, for parse errors, the Caddyfile line).
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	bin := harness.BuildBinary(t)
	good := harness.RandomSecret()

	t.Run("parse errors", func(t *testing.T) {
		for _, tc := range []struct {
			name         string
			app, protect []string
			want         string
			line         int
			secret       string // default: a good one
		}{
			{"short secret", nil, nil, "secret must be at least 32 bytes", 4, "only-twenty-one-chars"},
			{"low-entropy secret", nil, nil, "too little variety", 4, strings.Repeat("ab", 22)},
			{"short previous_secret", []string{"previous_secret tooshort"}, nil, "previous_secret: secret must be at least 32 bytes", 5, ""},
			{"unknown caddyauth option", []string{"frobnicate 1"}, nil, `unknown option "frobnicate"`, 5, ""},
			{"unknown protect option", nil, []string{"public /health", "frobnicate x"}, `unknown option "frobnicate"`, 11, ""},
			{"bad duration", []string{"cookie {", "\tidle 5x", "}"}, nil, `bad duration "5x"`, 6, ""},
			{"session_cache above the maximum", []string{"max_sessions_per_user 3", "session_cache 10s"}, nil, "session_cache must be between", 6, ""},
			{"unknown sessions backend", []string{"sessions mongo"}, nil, `unknown sessions backend "mongo"`, 5, ""},
			{"redis without a URL", []string{"sessions redis"}, nil, "needs a URL", 5, ""},
			{"bad max_sessions_per_user", []string{"max_sessions_per_user zero"}, nil, "positive integer", 5, ""},
			{"bad same_site", []string{"cookie {", "\tsame_site sideways", "}"}, nil, "same_site", 6, ""},
			{"unknown cookie option", []string{"cookie {", "\tflavour chocolate", "}"}, nil, `unknown cookie option "flavour"`, 6, ""},
			{"protect with arguments", nil, []string{"allow group"}, "needs a kind", 10, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				secret := tc.secret
				if secret == "" {
					secret = good
				}
				cfg := harness.WriteCaddyfile(t, badConfig(t, secret, tc.app, tc.protect))
				out, errOut, code := harness.RunCLI(t, bin, "", "adapt", "--config", cfg, "--adapter", "caddyfile")
				all := unescape(out + errOut)
				if code == 0 {
					t.Fatalf("adapt accepted the config:\n%s", all)
				}
				if !strings.Contains(all, tc.want) {
					t.Errorf("adapt output lacks %q:\n%s", tc.want, all)
				}
				if loc := fmt.Sprintf("Caddyfile:%d", tc.line); !strings.Contains(all, loc) {
					t.Errorf("adapt output does not name %s:\n%s", loc, all)
				}
				// `caddy run` refuses the same file.
				logs, _ := harness.RunCaddyExpectFailure(t, bin, readFile(t, cfg), 15*time.Second)
				logs = unescape(logs)
				if !strings.Contains(logs, tc.want) {
					t.Errorf("caddy run output lacks %q:\n%s", tc.want, logs)
				}
			})
		}
	})

	t.Run("provision errors", func(t *testing.T) {
		noApp := func(t *testing.T) string {
			return fmt.Sprintf("{\n\tadmin 127.0.0.1:%d\n}\n\nhttp://localhost:%d {\n\tprotect\n\trespond ok\n}\n", harness.FreePort(t), harness.FreePort(t))
		}
		for _, tc := range []struct {
			name   string
			config func(t *testing.T) string
			env    []string
			want   []string
		}{
			// A placeholder resolves only at start: the error names the
			// placeholder (never the value) so the operator knows what to fix.
			{"short secret from the environment", func(t *testing.T) string {
				return badConfig(t, "{env.CADDYAUTH_E2E_SHORT_SECRET}", []string{"sessions memory"}, nil)
			}, []string{"CADDYAUTH_E2E_SHORT_SECRET=only-twenty-one-chars"}, []string{"secret {env.CADDYAUTH_E2E_SHORT_SECRET}: secret must be at least 32 bytes", "caddy auth secret generate"}},
			{
				"missing secret (protect without the global option)", noApp, nil,
				[]string{"no secret configured", "caddyauth global option"},
			},
			{"secret from an unset environment variable", func(t *testing.T) string {
				return badConfig(t, "{env.CADDYAUTH_E2E_UNSET_SECRET}", []string{"sessions memory"}, nil)
			}, []string{"CADDYAUTH_E2E_UNSET_SECRET="}, []string{"secret", "{env.CADDYAUTH_E2E_UNSET_SECRET}", "empty"}},
			{"short previous_secret from the environment", func(t *testing.T) string {
				return badConfig(t, good, []string{"previous_secret {env.CADDYAUTH_E2E_SHORT_OLD}", "sessions memory"}, nil)
			}, []string{"CADDYAUTH_E2E_SHORT_OLD=tooshort"}, []string{"previous_secret {env.CADDYAUTH_E2E_SHORT_OLD}: secret must be at least 32 bytes"}},
			{"secret_file missing", func(t *testing.T) string {
				return strings.Replace(badConfig(t, good, []string{"sessions memory"}, nil), "secret "+good, "secret_file /nonexistent/caddyauth-secret", 1)
			}, nil, []string{"secret_file", "/nonexistent/caddyauth-secret"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				logs, code := harness.RunCaddyExpectFailure(t, bin, tc.config(t), 15*time.Second, tc.env...)
				logs = unescape(logs)
				t.Logf("exit %d after %s", code, time.Since(start).Round(time.Millisecond))
				for _, w := range tc.want {
					if !strings.Contains(logs, w) {
						t.Errorf("caddy run output lacks %q:\n%s", w, logs)
					}
				}
				if strings.Contains(logs, "serving initial configuration") {
					t.Errorf("caddy served a bad configuration")
				}
			})
		}
	})
}

// unescape undoes the JSON escaping of quotes in Caddy's log lines.
func unescape(s string) string { return strings.ReplaceAll(s, `\"`, `"`) }

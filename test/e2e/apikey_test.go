package e2e

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddyauth/gateway/test/harness"
)

// keyWithin is how soon a revoke, an expiry or a disable must be felt by
// every instance: keys are looked up on every use, so "the next request".
const keyWithin = time.Second

var keyPattern = regexp.MustCompile(`^cak_[0-9a-f]{16}_[0-9a-f]{64}$`)

func xAPIKey(key string) []string { return []string{"X-API-Key", key} }

// cliKey runs `caddy auth apikey create` and returns the printed key.
func cliKey(t *testing.T, c *harness.Gateways, args ...string) string {
	t.Helper()
	out, errOut, code := c.CLISecretOut(append([]string{"auth", "apikey", "create"}, args...)...)
	key := strings.TrimSpace(out)
	if code != 0 || !keyPattern.MatchString(key) || !strings.Contains(errOut, "not shown again") {
		t.Fatalf("apikey create: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	harness.Sensitive(key)
	return key
}

// refusedEverywhere checks that key is refused with code on all three
// instances, and how soon after since.
func refusedEverywhere(t *testing.T, c *harness.Gateways, key, code string, since time.Time, what string) {
	t.Helper()
	for i := range 3 {
		r, took := waitStatus(t, c.Client(i), "/app", http.StatusUnauthorized, keyWithin, hdr(api, bearer(key))...)
		if r.Code() != code {
			t.Fatalf("%s: instance %d answers %s, want %s", what, i, r, code)
		}
		t.Logf("%s: refused on instance %d %s after (the check itself took %s)", what, i, time.Since(since).Round(time.Millisecond), took.Round(time.Millisecond))
	}
}

// TestAPIKeysAcrossInstances (issue 13 item 3): keys made by the CLI and
// by the self-service API open the protected site on all three instances
// (PostgreSQL, Redis) as their owner with method api_key; they never reach
// the upstream, never open the portal, are kept off a `deny method
// api_key` path and a `require mfa` path; a revoke (API or CLI), an expiry
// and the owner's disable are felt on every instance at once; the listing
// shows last use and never a key.
func TestAPIKeysAcrossInstances(t *testing.T) {
	t.Parallel()
	pw := newPassword()
	var aliceID string
	c := multi(t, func(cfg *harness.GatewayConfig) {
		cfg.ProtectOptions = append(cfg.ProtectOptions, "header X-Auth-Method {http.auth.user.method}")
		// The documented recipe: Caddy's access log redacts Authorization
		// but not X-API-Key.
		cfg.LogFields = append(cfg.LogFields, "request>headers>X-Api-Key delete")
		cfg.SiteExtra = append(cfg.SiteExtra,
			"protect /nokeys* {\n\t\tdeny method api_key\n\t}",
			"protect /strict* {\n\t\trequire mfa\n\t}")
	}, func(c *harness.Gateways) { aliceID = c.AddUser("alice@example.test", "Alice", pw, "ops") })

	key := cliKey(t, c, "--user", "alice@example.test", "--name", "deploy bot", "--expires", "90d")
	for i := range 3 {
		for name, h := range map[string][]string{"bearer": bearer(key), "x-api-key": xAPIKey(key)} {
			r := c.Client(i).Get("/app/report", hdr(api, h, []string{"Remote-User", "admin"})...)
			if r.StatusCode != http.StatusOK || !r.FromUpstream() {
				t.Fatalf("instance %d, %s: %s", i, name, r)
			}
			e := r.Echo()
			for k, want := range map[string]string{"Remote-User": aliceID, "Remote-Email": "alice@example.test", "Remote-Groups": "ops", "X-Auth-Method": "api_key"} {
				if got := strings.Join(e.Headers[k], ","); got != want {
					t.Errorf("instance %d, %s: upstream %s = %q, want %q", i, name, k, got, want)
				}
			}
			for k, v := range e.Headers {
				if strings.Contains(strings.Join(v, ","), key[4:20]) {
					t.Errorf("instance %d, %s: the key reached the upstream in %s", i, name, k)
				}
			}
		}
		expectError(t, c.Client(i).Get("/nokeys/x", hdr(api, bearer(key))...), http.StatusForbidden, "FORBIDDEN")
		expectError(t, c.Client(i).Get("/strict/x", hdr(api, bearer(key))...), http.StatusForbidden, "MFA_REQUIRED")
		expectStatus(t, c.Client(i).Get("/auth/session", hdr(api, bearer(key))...), http.StatusUnauthorized)
	}
	// A password session still passes /nokeys.
	browserA := c.Client(0)
	browserA.Login("alice@example.test", pw)
	if r := browserA.Get("/nokeys/x", api...); r.StatusCode != http.StatusOK {
		t.Fatalf("a password session on /nokeys: %s", r)
	}
	// Bad keys: one answer, never a 500.
	for name, v := range map[string]string{
		"wrong secret": key[:len(key)-8] + "00000000", "truncated": key[:40], "unknown id": "cak_0000000000000000" + key[20:],
		"not hex": "cak_" + strings.Repeat("z", 16) + key[20:],
	} {
		expectError(t, c.Client(1).Get("/app", hdr(api, bearer(v))...), http.StatusUnauthorized, "TOKEN_INVALID")
		expectError(t, c.Client(1).Get("/app", hdr(api, xAPIKey(v))...), http.StatusUnauthorized, "TOKEN_INVALID")
		_ = name
	}

	out, _, code := c.CLI("", "auth", "apikey", "list", "--user", "alice@example.test")
	id := key[4:20]
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "deploy bot") || strings.Contains(out, key[21:]) {
		t.Fatalf("apikey list: exit %d\n%s", code, out)
	}
	if all, _, code := c.CLI("", "auth", "apikey", "list"); code != 0 || !strings.Contains(lineWith(all, id), "alice@example.test") {
		t.Fatalf("apikey list (everyone): exit %d\n%s", code, all)
	}
	if line := lineWith(out, id); strings.Count(line, "never") != 0 {
		t.Errorf("apikey list after use: last use and expiry should be set: %q", line)
	}

	// Self-service on instance B, used on C, revoked on B: felt on A and C.
	browserB := c.Client(1)
	browserB.Login("alice@example.test", pw)
	made := browserB.PostJSON("/auth/api-keys", map[string]string{"name": "laptop", "expires": "30d"})
	if made.StatusCode != http.StatusCreated {
		t.Fatalf("POST /auth/api-keys: %s", made)
	}
	m := made.JSON()
	key2, _ := m["api_key"].(string)
	harness.Sensitive(key2)
	if !keyPattern.MatchString(key2) || m["id"] != key2[4:20] || m["expires_at"] == nil {
		t.Fatalf("created key answer: %v", m)
	}
	expectStatus(t, c.Client(2).Get("/app", hdr(api, xAPIKey(key2))...), http.StatusOK)
	list := browserB.Get("/auth/api-keys", api...)
	if list.StatusCode != http.StatusOK || strings.Count(string(list.Body), `"id"`) != 2 || strings.Contains(string(list.Body), key2[21:]) {
		t.Fatalf("GET /auth/api-keys: %s", list)
	}
	del := browserB.Do(browserB.NewRequest("DELETE", "/auth/api-keys/"+key2[4:20], nil, api...))
	revoked := time.Now()
	expectStatus(t, del, http.StatusOK)
	refusedEverywhere(t, c, key2, "TOKEN_INVALID", revoked, "self-service revoke")

	// The CLI revokes by id.
	if out, errOut, code := c.CLI("", "auth", "apikey", "revoke", id); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("apikey revoke: exit %d\n%s%s", code, out, errOut)
	}
	refusedEverywhere(t, c, key, "TOKEN_INVALID", time.Now(), "CLI revoke")

	// Expiry: a key whose time has come (set in the database, as time
	// passing would) is refused everywhere with TOKEN_EXPIRED.
	key3 := cliKey(t, c, "--user", "alice@example.test", "--name", "expiring", "--expires", "1h")
	expectStatus(t, c.Client(0).Get("/app", hdr(api, bearer(key3))...), http.StatusOK)
	db, err := pgx.Connect(context.Background(), c.DB.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	if _, err := db.Exec(context.Background(), `UPDATE api_keys SET expires_at = $1 WHERE id = $2`, time.Now().Add(-time.Second).UnixMilli(), key3[4:20]); err != nil {
		t.Fatal(err)
	}
	refusedEverywhere(t, c, key3, "TOKEN_EXPIRED", time.Now(), "expiry")
	// Only the hash is stored.
	var stored string
	if err := db.QueryRow(context.Background(), `SELECT hash FROM api_keys WHERE id = $1`, key3[4:20]).Scan(&stored); err != nil || strings.Contains(stored, key3[21:]) || len(stored) != 64 {
		t.Fatalf("stored hash %q, %v", stored, err)
	}

	// The owner's disable.
	key4 := cliKey(t, c, "--user", "alice@example.test", "--name", "last")
	expectStatus(t, c.Client(2).Get("/app", hdr(api, bearer(key4))...), http.StatusOK)
	if out, errOut, code := c.CLI("", "auth", "user", "disable", "alice@example.test"); code != 0 {
		t.Fatalf("user disable: exit %d\n%s%s", code, out, errOut)
	}
	refusedEverywhere(t, c, key4, "TOKEN_INVALID", time.Now(), "owner disabled")

	// CLI refusals are clear and exit non-zero.
	for _, args := range [][]string{
		{"auth", "apikey", "create", "--user", "nobody@example.test", "--name", "x"},
		{"auth", "apikey", "create", "--user", "alice@example.test"},
		{"auth", "apikey", "create", "--user", "alice@example.test", "--name", "x", "--expires", "-3d"},
		{"auth", "apikey", "revoke", "0000000000000000"},
	} {
		if out, errOut, code := c.CLI("", args...); code == 0 || errOut == "" {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	// The audit trail has the key events and still verifies.
	if out, errOut, code := c.CLI("", "auth", "audit", "verify"); code != 0 {
		t.Fatalf("audit verify: exit %d\n%s%s", code, out, errOut)
	}
}

func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

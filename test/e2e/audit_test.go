package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite" // to tamper with the gateway's database directly

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/webhooksig"
	"github.com/caddyauth/gateway/test/harness"
)

// auditRecv is a webhook receiver that checks signatures.
type auditRecv struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	recs   []audit.JSONRecord
}

func (a *auditRecv) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !webhooksig.Verify([]byte(a.secret), r.Header.Get(audit.TimestampHeader), r.Header.Get(audit.SignatureHeader), body, time.Now(), time.Minute) {
		a.t.Errorf("webhook signature %q does not match the body", r.Header.Get(audit.SignatureHeader))
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var j audit.JSONRecord
	if err := json.Unmarshal(body, &j); err != nil {
		a.t.Errorf("webhook body: %v", err)
	}
	a.mu.Lock()
	a.recs = append(a.recs, j)
	a.mu.Unlock()
}

func (a *auditRecv) seqs() map[int64]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := map[int64]string{}
	for _, r := range a.recs {
		m[r.Seq] = r.Type
	}
	return m
}

// TestAuditTrail: logins, a failed login, a logout and CLI actions land in
// the audit chain of the real binary (database, file and webhook); `audit
// verify` passes and `audit tail --user` shows them; then the SQLite file
// is tampered with directly (edit, delete, insert, reorder, truncate) and
// verify fails naming the right record each time.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "auth.db")
	filePath := filepath.Join(dir, "audit.jsonl")
	secret := harness.RandomSecret()
	harness.Sensitive(secret)
	secretEnv := []string{"AUDIT_E2E_SECRET=" + secret, "AUDIT_E2E_HOOK=hook-" + secret[:20]}
	recv := &auditRecv{t: t, secret: "hook-" + secret[:20]}
	hook := httptest.NewServer(recv)
	defer hook.Close()

	g := newGateway(t, func(c *harness.GatewayConfig) {
		// The secret comes from the environment: the CLI must resolve it
		// exactly like the server.
		c.Secret = "{env.AUDIT_E2E_SECRET}"
		c.AppOptions = []string{
			"database sqlite " + dbPath,
			"audit {",
			"\tfile " + filePath,
			"\twebhook " + hook.URL + "/caddyauth {",
			"\t\tsecret {env.AUDIT_E2E_HOOK}",
			"\t}",
			"}",
		}
	})
	cfg := g.cfgPath
	cli := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		return harness.RunCLIEnv(t, g.bin, stdin, secretEnv, args...)
	}
	alicePW, bobPW := newPassword(), newPassword()
	for _, u := range []struct{ email, pw string }{{"alice@example.test", alicePW}, {"bob@example.test", bobPW}} {
		if out, errOut, code := cli(u.pw, "auth", "user", "add", "--config", cfg, "--email", u.email, "--password-stdin"); code != 0 || strings.Contains(errOut, "warning") {
			t.Fatalf("user add: exit %d\n%s%s", code, out, errOut)
		}
	}
	g.caddy = harness.StartCaddy(t, g.bin, g.cfg.Caddyfile(t), secretEnv...)
	ready := g.caddy.WaitLog("caddyauth ready", 10*time.Second)
	if got := fmt.Sprint(ready["audit_sinks"]); got != "[database file webhook]" {
		t.Errorf("startup audit_sinks = %s", got)
	}

	c := g.client()
	wrong := "wrong " + newPassword()
	harness.Sensitive(wrong)
	c.Login("alice@example.test", alicePW)
	token := c.Cookie(cookieName)
	harness.Sensitive(token)
	expectStatus(t, c.Get("/app", api...), http.StatusOK)
	expectError(t, c.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": wrong}, api...), http.StatusUnauthorized, "INVALID_CREDENTIALS")
	expectError(t, c.PostJSON("/auth/login", map[string]string{"email": "mallory@example.test", "password": wrong}, api...), http.StatusUnauthorized, "INVALID_CREDENTIALS")
	c.Login("alice@example.test", alicePW)
	expectStatus(t, c.PostForm("/auth/logout", nil, api...), http.StatusOK)

	// Several processes append at once: the server (logins) and CLI
	// commands, all into one SQLite file.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			g.client().Login("bob@example.test", bobPW)
		}()
		go func() {
			defer wg.Done()
			who := []string{"alice@example.test", "bob@example.test"}[i%2]
			if out, errOut, code := cli("", "auth", "sessions", "revoke", "--config", cfg, "--user", who); code != 0 || strings.Contains(errOut, "warning") {
				t.Errorf("sessions revoke: exit %d\n%s%s", code, out, errOut)
			}
		}()
	}
	wg.Wait()
	if out, errOut, code := cli("", "auth", "user", "disable", "bob@example.test", "--config", cfg); code != 0 || strings.Contains(errOut, "warning") {
		t.Fatalf("disable: exit %d\n%s%s", code, out, errOut)
	}

	// 2 user.created + login, failed, failed, login, logout + 4 logins and
	// 4 revocations + disable and its revocation.
	const total = 2 + 5 + 8 + 2
	out, errOut, code := cli("", "auth", "audit", "verify", "--config", cfg)
	if code != 0 || !strings.HasPrefix(out, fmt.Sprintf("ok: %d records", total)) {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}

	t.Run("tail --user", func(t *testing.T) {
		out, errOut, code := cli("", "auth", "audit", "tail", "--config", cfg, "--user", "Alice@Example.test", "-n", "50")
		if code != 0 {
			t.Fatalf("tail: exit %d\n%s%s", code, out, errOut)
		}
		t.Logf("tail --user:\n%s", out)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		var types []string
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) < 4 || !strings.Contains(l, "email=alice@example.test") {
				t.Errorf("line not about alice: %q", l)
				continue
			}
			types = append(types, f[2])
		}
		got := strings.Join(types, " ")
		if !regexp.MustCompile(`^user\.created login\.succeeded login\.failed login\.succeeded logout( session\.revoked)+$`).MatchString(got) {
			t.Errorf("alice's events: %s\n%s", got, out)
		}
		if !strings.Contains(out, "actor=cli") || !strings.Contains(out, "reason=invalid_credentials") || !strings.Contains(out, "ip=127.0.0.1") {
			t.Errorf("tail lacks fields:\n%s", out)
		}
		if strings.Contains(out, "mallory") || strings.Contains(out, "bob@") {
			t.Errorf("tail --user shows other accounts:\n%s", out)
		}
		out, _, _ = cli("", "auth", "audit", "tail", "--config", cfg, "-n", "3", "--json")
		var recs []audit.JSONRecord
		dec := json.NewDecoder(strings.NewReader(out))
		for dec.More() {
			var r audit.JSONRecord
			if err := dec.Decode(&r); err != nil {
				t.Fatalf("tail --json: %v\n%s", err, out)
			}
			recs = append(recs, r)
		}
		if len(recs) != 3 || recs[2].Seq != total || recs[2].Type != "session.revoked" || recs[1].Type != "user.disabled" || recs[1].Actor != "cli" || len(recs[2].MAC) != 64 {
			t.Errorf("tail --json -n 3: %+v", recs)
		}
		for _, s := range []string{alicePW, bobPW, wrong, token, secret} {
			if strings.Contains(out, s) {
				t.Errorf("audit output holds a secret")
			}
		}
	})

	t.Run("file and webhook sinks", func(t *testing.T) {
		lines := strings.Split(strings.TrimSpace(readFile(t, filePath)), "\n")
		if len(lines) != total {
			t.Errorf("audit file has %d lines, want %d", len(lines), total)
		}
		if fi, err := os.Stat(filePath); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("audit file mode: %v %v", fi.Mode(), err)
		}
		ok, _ := harness.Eventually(10*time.Second, 50*time.Millisecond, func() bool { return len(recv.seqs()) >= total })
		if !ok {
			t.Fatalf("webhook got %d of %d records", len(recv.seqs()), total)
		}
		if s := recv.seqs(); s[1] != "user.created" || s[3] != "login.succeeded" {
			t.Errorf("webhook records %v", s)
		}
	})

	t.Run("verify needs the secret", func(t *testing.T) {
		out, errOut, code := harness.RunCLI(t, g.bin, "", "auth", "audit", "verify", "--config", cfg)
		if code == 0 || !strings.Contains(out+errOut, "secret") {
			t.Errorf("verify without the secret: exit %d\n%s%s", code, out, errOut)
		}
	})

	g.caddy.Stop()
	pristine := filepath.Join(dir, "pristine.db")
	execSQL(t, dbPath, "VACUUM INTO '"+pristine+"'")

	seqOf := func(typ string, nth int) int64 {
		var s int64
		queryRow(t, pristine, &s, `SELECT seq FROM audit_log WHERE type = ? ORDER BY seq LIMIT 1 OFFSET ?`, typ, nth)
		return s
	}
	failed := seqOf("login.failed", 0)
	logout := seqOf("logout", 0)
	second := seqOf("login.succeeded", 1)
	var headMAC string
	queryRow(t, pristine, &headMAC, `SELECT mac FROM audit_log WHERE seq = ?`, total)
	anchor := fmt.Sprintf("%d:%s", total, headMAC[:16]) // as verify prints the head

	for _, tc := range []struct {
		name   string
		anchor bool // configure the file sink (its last line is the anchor)
		args   []string
		sql    []string
		want   string // "" = verifies
	}{
		{
			"edit a field", false, nil,
			[]string{fmt.Sprintf(`UPDATE audit_log SET email = 'someone@example.test' WHERE seq = %d`, failed)},
			fmt.Sprintf("record %d: MAC mismatch", failed),
		},
		{
			"edit a detail", false, nil,
			[]string{fmt.Sprintf(`UPDATE audit_log SET detail = '{"method":"oauth:google"}' WHERE seq = %d`, second)},
			fmt.Sprintf("record %d: MAC mismatch", second),
		},
		{
			"edit a detail into something that is not JSON", false, nil,
			[]string{fmt.Sprintf(`UPDATE audit_log SET detail = '{"sessions": 3' WHERE seq = %d`, second)},
			fmt.Sprintf("record %d: MAC mismatch", second),
		},
		{
			"overwrite a MAC with garbage", false, nil,
			[]string{fmt.Sprintf(`UPDATE audit_log SET mac = 'not hex' WHERE seq = %d`, logout)},
			fmt.Sprintf("record %d: MAC mismatch", logout),
		},
		{
			"delete a record", false, nil,
			[]string{fmt.Sprintf(`DELETE FROM audit_log WHERE seq = %d`, logout)},
			fmt.Sprintf("record %d: deleted", logout),
		},
		{"insert a forged record", false, nil, []string{
			fmt.Sprintf(`UPDATE audit_log SET seq = -(seq + 1) WHERE seq > %d`, failed),
			`UPDATE audit_log SET seq = -seq WHERE seq < 0`,
			fmt.Sprintf(`INSERT INTO audit_log (seq, at, type, user_id, email, prev_mac, mac) SELECT %d, at, 'login.succeeded', user_id, 'mallory@example.test', mac, '%s' FROM audit_log WHERE seq = %d`,
				failed+1, strings.Repeat("ab", 32), failed),
		}, fmt.Sprintf("record %d: MAC mismatch", failed+1)},
		{"reorder two records", false, nil, []string{
			fmt.Sprintf(`UPDATE audit_log SET seq = -1 WHERE seq = %d`, failed),
			fmt.Sprintf(`UPDATE audit_log SET seq = %d WHERE seq = %d`, failed, failed+1),
			fmt.Sprintf(`UPDATE audit_log SET seq = %d WHERE seq = -1`, failed+1),
		}, fmt.Sprintf("record %d: broken link", failed)},
		{"truncate the tail, no anchor", false, nil, []string{fmt.Sprintf(`DELETE FROM audit_log WHERE seq > %d`, total-2)}, ""},
		{
			"truncate the tail, file anchor", true, nil,
			[]string{fmt.Sprintf(`DELETE FROM audit_log WHERE seq > %d`, total-2)},
			fmt.Sprintf("record %d: truncated", total-1),
		},
		{"untouched, file anchor", true, nil, nil, ""},
		{
			"truncate the tail, --anchor", false,
			[]string{"--anchor", anchor},
			[]string{fmt.Sprintf(`DELETE FROM audit_log WHERE seq > %d`, total-3)},
			fmt.Sprintf("record %d: truncated", total-2),
		},
		{
			"rewritten head, --anchor", false,
			[]string{"--anchor", fmt.Sprintf("%d:%s", total, strings.Repeat("0", 16))},
			nil,
			fmt.Sprintf("record %d: does not match the anchor", total),
		},
		{"untouched, --anchor", false, []string{"--anchor", "#" + anchor}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tdir := t.TempDir()
			copyDB := filepath.Join(tdir, "auth.db")
			execSQL(t, pristine, "VACUUM INTO '"+copyDB+"'")
			for _, q := range tc.sql {
				execSQL(t, copyDB, q)
			}
			opts := "\t\tdatabase sqlite " + copyDB + "\n"
			if tc.anchor {
				opts += "\t\taudit {\n\t\t\tfile " + filePath + "\n\t\t}\n"
			}
			tcfg := harness.WriteCaddyfile(t, "{\n\tcaddyauth {\n\t\tsecret {env.AUDIT_E2E_SECRET}\n"+opts+"\t}\n}\n\nhttp://localhost:1 {\n\trespond ok\n}\n")
			out, errOut, code := cli("", append([]string{"auth", "audit", "verify", "--config", tcfg}, tc.args...)...)
			t.Logf("verify: exit %d: %s", code, strings.TrimSpace(out))
			if tc.want == "" {
				if code != 0 || !strings.HasPrefix(out, "ok: ") {
					t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
				}
				return
			}
			if code == 0 || !strings.Contains(out, tc.want) {
				t.Fatalf("verify: exit %d, want failure %q\n%s%s", code, tc.want, out, errOut)
			}
		})
	}

	// A secret rotation: records sealed before it verify while
	// previous_secret is set, records after it use the new secret.
	t.Run("rotation", func(t *testing.T) {
		copyDB := filepath.Join(t.TempDir(), "auth.db")
		execSQL(t, pristine, "VACUUM INTO '"+copyDB+"'")
		newSecret := harness.RandomSecret()
		harness.Sensitive(newSecret)
		write := func(secrets string) string {
			return harness.WriteCaddyfile(t, "{\n\tcaddyauth {\n"+secrets+"\t\tdatabase sqlite "+copyDB+"\n\t}\n}\n\nhttp://localhost:1 {\n\trespond ok\n}\n")
		}
		rotated := write("\t\tsecret " + newSecret + "\n\t\tprevious_secret {env.AUDIT_E2E_SECRET}\n")
		if out, errOut, code := cli("", "auth", "user", "enable", "bob@example.test", "--config", rotated); code != 0 || strings.Contains(errOut, "warning") {
			t.Fatalf("enable after rotation: exit %d\n%s%s", code, out, errOut)
		}
		out, errOut, code := cli("", "auth", "audit", "verify", "--config", rotated)
		t.Logf("verify: exit %d: %s", code, strings.TrimSpace(out))
		if code != 0 || !strings.HasPrefix(out, fmt.Sprintf("ok: %d records", total+1)) || !strings.Contains(out, fmt.Sprintf("%d sealed with previous_secret", total)) {
			t.Fatalf("verify after rotation: exit %d\n%s%s", code, out, errOut)
		}
		// Dropping previous_secret: the old records no longer verify.
		out, _, code = cli("", "auth", "audit", "verify", "--config", write("\t\tsecret "+newSecret+"\n"))
		if code == 0 || !strings.Contains(out, "record 1: MAC mismatch") {
			t.Fatalf("verify without previous_secret: exit %d\n%s", code, out)
		}
	})
}

func execSQL(t *testing.T, path, q string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func queryRow(t *testing.T, path string, dst any, q string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRowContext(context.Background(), q, args...).Scan(dst); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestAuditSinkFailureNotFatal: a sink that cannot write (the file sink on
// /dev/full) fails no request; the failure is logged and counted, and the
// database chain is complete.
func TestAuditSinkFailureNotFatal(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Fatalf("this test needs /dev/full: %v", err)
	}
	db := filepath.Join(t.TempDir(), "auth.db")
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = []string{"database sqlite " + db, "audit {", "\tfile /dev/full", "}"}
	})
	pw := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.start()
	c := g.client()
	c.Login("alice@example.test", pw)
	expectStatus(t, c.Get("/app", api...), http.StatusOK)
	entry := g.caddy.WaitLog("audit sink failed", 5*time.Second)
	if entry["sink"] != "file" || !strings.Contains(fmt.Sprint(entry["error"]), "no space") {
		t.Errorf("sink failure log entry: %v", entry)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	res, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", g.cfg.AdminPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if v := metricValue(string(body), `caddy_auth_audit_sink_failures_total{sink="file"}`); v < 1 {
		t.Errorf("caddy_auth_audit_sink_failures_total{sink=\"file\"} = %v, want >= 1", v)
	}
	if v := metricValue(string(body), `caddy_auth_audit_write_failures_total`); v != 0 {
		t.Errorf("caddy_auth_audit_write_failures_total = %v, want 0", v)
	}
	// user.created (CLI) and login.succeeded.
	out, errOut, code := g.cli("", "auth", "audit", "verify", "--config", g.cfgPath)
	if code != 0 || !strings.HasPrefix(out, "ok: 2 records") {
		t.Errorf("verify: exit %d\n%s%s", code, out, errOut)
	}
}

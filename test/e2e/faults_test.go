package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/test/harness"
)

// privatePG is a PostgreSQL server of the test's own (initdb + pg_ctl in a
// temporary directory, trust auth, loopback, a free port), so that the
// test can stop and restart it without touching the shared server.
type privatePG struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	run  []string // runuser prefix when the test runs as root
}

// pgBinDir finds initdb and pg_ctl as scripts/postgres.sh does; missing
// binaries fail the test (the fault test needs a server it may stop).
func pgBinDir(t *testing.T) string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p)
		}
	}
	ds, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for _, d := range ds {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	t.Fatal("no initdb/pg_ctl found (install postgresql)")
	return ""
}

func startPrivatePG(t *testing.T) *privatePG {
	t.Helper()
	p := &privatePG{t: t, bin: pgBinDir(t), port: harness.FreePort(t)}
	dir, err := os.MkdirTemp("", "caddyauth-faultpg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root and no postgres user: %v", err)
		}
		if out, err := exec.Command("chown", u.Username, dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
		p.run = []string{"runuser", "-u", "postgres", "--"}
	}
	p.cmd("initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
	p.Start()
	t.Cleanup(func() { p.exec("pg_ctl", "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop") })
	return p
}

func (p *privatePG) exec(name string, args ...string) ([]byte, error) {
	argv := append(append(append([]string(nil), p.run...), filepath.Join(p.bin, name)), args...)
	return exec.Command(argv[0], argv[1:]...).CombinedOutput()
}

func (p *privatePG) cmd(name string, args ...string) {
	p.t.Helper()
	if out, err := p.exec(name, args...); err != nil {
		p.t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

// Start starts (or restarts) the server on its port and waits for it.
func (p *privatePG) Start() {
	p.t.Helper()
	p.cmd("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-l", filepath.Join(p.dir, "log"), "-w", "-t", "60",
		"-o", fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=200", p.port, p.dir), "start")
}

// Crash stops the server at once (`-m immediate`: no checkpoint, every
// connection cut), as a crash or a failover does.
func (p *privatePG) Crash() {
	p.t.Helper()
	p.cmd("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-m", "immediate", "-w", "stop")
}

// DSN is the superuser DSN of database postgres.
func (p *privatePG) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// TestFaultPostgresRestart (issue 14 item 5): two gateways on a private
// PostgreSQL (`database postgres`, `sessions database`, default 5s session
// cache). (1) The listening connection is cut (pg_terminate_backend) and a
// session is deleted straight from the database at once: no instance
// serves it from its cache, as a lost listener means "verify every
// request". (2) PostgreSQL crashes under traffic: every protected request
// and login on both instances answers 503 STORE_UNAVAILABLE (never the
// upstream, never a 500) while it is down. (3) It comes back on the same
// port: requests recover by themselves, no gateway restart; the listeners
// resubscribe, so a logout on A is felt on B (which trusts its cache
// again) within 1s.
func TestFaultPostgresRestart(t *testing.T) {
	t.Parallel()
	pg := startPrivatePG(t)
	u, err := url.Parse(pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	pwDSN := "pg-" + harness.RandomSecret()[:20]
	harness.Sensitive(pwDSN)
	u.User = url.UserPassword("postgres", pwDSN) // trust auth: never checked, must never be printed
	harness.Setenv(t, "CADDYAUTH_E2E_FAULT_PG_DSN", u.String())

	a := newGateway(t, func(c *harness.GatewayConfig) {
		c.Sessions = "database"
		c.SessionCache = "" // default 5s: a stale answer would show
		c.AppOptions = append(c.AppOptions, "database postgres {env.CADDYAUTH_E2E_FAULT_PG_DSN}")
	})
	pw := newPassword()
	a.addUser("alice@example.test", "Alice", pw)
	a.start()
	bcfg := a.cfg
	bcfg.Port, bcfg.AdminPort = 0, 0
	b := harness.StartCaddy(t, a.bin, bcfg.Caddyfile(t))
	onA := harness.NewClient(t, a.url(), harness.Timeout(30*time.Second))
	onB := harness.NewClient(t, b.URL, harness.Timeout(30*time.Second))
	get := func(c *harness.Client, tok string) *harness.Response {
		return c.Get("/app", hdr(api, withCookie(tok))...)
	}
	login := func() string {
		c := harness.NewClient(t, a.url(), harness.Timeout(30*time.Second))
		c.Login("alice@example.test", pw)
		tok := c.Cookie(cookieName)
		if tok == "" {
			t.Fatal("no session cookie after login")
		}
		return tok
	}
	quiet := func(tok string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, pg.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		var n int64
		if err := c.QueryRow(ctx, `WITH d AS (DELETE FROM sessions WHERE id = $1 RETURNING 1) SELECT count(*) FROM d`, keys.HashToken(tok)).Scan(&n); err != nil || n != 1 {
			t.Fatalf("quiet delete: %v (rows %d)", err, n)
		}
	}
	// trusting waits until B serves a session deleted behind its back from
	// its cache: B is listening and trusts its cache. Without this a B that
	// verifies every request forever would pass the revocation checks.
	trusting := func(when string) {
		t.Helper()
		ok, took := harness.Eventually(30*time.Second, 100*time.Millisecond, func() bool {
			probe := login()
			expectStatus(t, get(onB, probe), http.StatusOK)
			quiet(probe)
			return get(onB, probe).StatusCode == http.StatusOK
		})
		if !ok {
			t.Fatalf("%s: B never trusts its cache (its listener never came up?)", when)
		}
		t.Logf("%s: B listening and trusting its cache after %s", when, took.Round(time.Millisecond))
	}
	trusting("at start")

	// (1) Listener lost and kept lost, revoke straight in the database:
	// never stale. New connections to the database are refused
	// (ALLOW_CONNECTIONS false), so the listeners cannot come back and
	// flush the cache; the gateways' already-open pool connections still
	// answer. Only "verify every request" keeps B from serving the
	// session it has cached for 5s.
	tok := login()
	expectStatus(t, get(onB, tok), http.StatusOK) // cached on B
	ctx := context.Background()
	// db is opened on the gateways' database before it stops taking
	// connections; sw, on template1, flips the switch.
	db, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	sw, err := pgx.Connect(ctx, strings.Replace(pg.DSN(), "/postgres?", "/template1?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close(ctx)
	if _, err := sw.Exec(ctx, `ALTER DATABASE postgres ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	allow := func() {
		if _, err := sw.Exec(ctx, `ALTER DATABASE postgres ALLOW_CONNECTIONS true`); err != nil {
			t.Fatal(err)
		}
	}
	var killed int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query ILIKE 'listen %') k`).Scan(&killed); err != nil || killed != 2 {
		allow()
		t.Fatalf("terminated %d listening connections (%v), want one per instance (2)", killed, err)
	}
	// pg_terminate_backend only signals: wait until the listening
	// backends are gone (their sockets closed), and give the gateways'
	// listeners a moment to read the end of their connections.
	if ok, _ := harness.Eventually(10*time.Second, 20*time.Millisecond, func() bool {
		var n int
		_ = db.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'listen %' AND pid <> pg_backend_pid()`).Scan(&n)
		return n == 0
	}); !ok {
		allow()
		t.Fatal("terminated listening backends still there")
	}
	time.Sleep(300 * time.Millisecond)
	var deleted int64
	if err := db.QueryRow(ctx, `WITH d AS (DELETE FROM sessions WHERE id = $1 RETURNING 1) SELECT count(*) FROM d`, keys.HashToken(tok)).Scan(&deleted); err != nil || deleted != 1 {
		allow()
		t.Fatalf("quiet delete: %v (rows %d)", err, deleted)
	}
	for i := 0; i < 10; i++ {
		r := get(onB, tok)
		if r.FromUpstream() || (r.StatusCode != http.StatusUnauthorized && r.StatusCode != http.StatusServiceUnavailable) {
			allow()
			t.Fatalf("listener lost, session deleted in the database: B answered %s (stale cache)", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	allow()
	trusting("after the listeners were cut")

	// (2) PostgreSQL crashes under traffic.
	live := login()
	for _, c := range []*harness.Client{onA, onB} {
		expectStatus(t, get(c, live), http.StatusOK) // cached on both
	}
	pg.Crash()
	down := time.Now()
	// The listeners notice the cut connection at once; give a loaded
	// machine a moment, then every request must fail closed.
	ok, took := harness.Eventually(5*time.Second, 50*time.Millisecond, func() bool {
		ra, rb := get(onA, live), get(onB, live)
		for _, r := range []*harness.Response{ra, rb} {
			if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("PostgreSQL down: got %s, want 503 (or a cached 200 in the first instant)", r)
			}
		}
		return ra.StatusCode == http.StatusServiceUnavailable && rb.StatusCode == http.StatusServiceUnavailable
	})
	if !ok {
		t.Fatalf("requests still pass %s after PostgreSQL went down", time.Since(down))
	}
	t.Logf("PostgreSQL down: both instances refuse (503) after %s", took.Round(time.Millisecond))
	for round := 0; round < 3; round++ {
		for name, c := range map[string]*harness.Client{"A": onA, "B": onB} {
			for _, tc := range []struct {
				what string
				do   func() *harness.Response
			}{
				{"protected GET", func() *harness.Response { return get(c, live) }},
				{"protected POST", func() *harness.Response {
					return c.PostJSON("/app/items", map[string]int{"n": 1}, withCookie(live)...)
				}},
				{"login", func() *harness.Response {
					return c.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw})
				}},
			} {
				start := time.Now()
				r := tc.do()
				refused := r.StatusCode == http.StatusServiceUnavailable && r.Code() == "STORE_UNAVAILABLE"
				if !refused || r.FromUpstream() {
					t.Errorf("%s on %s with PostgreSQL down: got %s, want 503 STORE_UNAVAILABLE (an unreadable method switch is an outage too)", tc.what, name, r)
				}
				if d := time.Since(start); d > 15*time.Second {
					t.Errorf("%s on %s with PostgreSQL down took %s", tc.what, name, d)
				}
			}
		}
		time.Sleep(time.Second)
	}
	outage := time.Since(down)

	// (3) Back on the same port: recovery without a gateway restart.
	pg.Start()
	back := time.Now()
	for name, c := range map[string]*harness.Client{"A": onA, "B": onB} {
		_, took := waitStatus(t, c, "/app", http.StatusOK, 30*time.Second, hdr(api, withCookie(live))...)
		t.Logf("PostgreSQL back after a %s outage: %s serves the session again after %s", outage.Round(time.Second), name, took.Round(time.Millisecond))
	}
	for _, p := range []*harness.Caddy{a.caddy, b} {
		if p.Exited() {
			t.Fatalf("gateway %s exited during the outage", p.URL)
		}
	}
	t.Logf("recovered %s after PostgreSQL restarted", time.Since(back).Round(time.Millisecond))
	trusting("after the restart")
	ca := harness.NewClient(t, a.url(), harness.Timeout(30*time.Second))
	ca.Login("alice@example.test", pw)
	lt := ca.Cookie(cookieName)
	expectStatus(t, get(onB, lt), http.StatusOK)
	expectStatus(t, ca.PostJSON("/auth/logout", map[string]string{}), http.StatusOK)
	_, took = waitStatus(t, onB, "/app", http.StatusUnauthorized, time.Second, hdr(api, withCookie(lt))...)
	t.Logf("after the restart a logout on A is felt on B after %s (LISTEN resubscribed)", took.Round(time.Millisecond))
	expectError(t, get(onB, lt), http.StatusUnauthorized, "SESSION_EXPIRED")
	if strings.Contains(a.caddy.Logs()+b.Logs(), pwDSN) {
		t.Error("the DSN password appears in a gateway log")
	}
}

package e2e

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/pgtest"
	"github.com/caddyauth/gateway/test/harness"
)

// pgGateway is a gateway config on a fresh PostgreSQL database (dropped at
// the end) with `sessions database`; the DSN, password included, reaches
// Caddy only through {env.CADDYAUTH_CLUSTER_PG_DSN} (harness.SharedPostgres).
func pgGateway(t *testing.T) (*gateway, *pgtest.Database) {
	t.Helper()
	db := harness.SharedPostgres(t)
	return newGateway(t, func(c *harness.GatewayConfig) {
		c.Sessions = "database"
		c.SessionCache = "" // the default 5s: only NOTIFY can beat it
		c.AppOptions = append(c.AppOptions, "database postgres {env."+harness.ClusterDSNEnv+"}")
	}), db
}

// quietDelete removes the session of a cookie token straight from the
// database, telling no instance; it reports whether a row went.
func quietDelete(t *testing.T, dsn, token string) bool {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	tag, err := c.Exec(context.Background(), `DELETE FROM sessions WHERE id = $1`, keys.HashToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return tag.RowsAffected() == 1
}

// TestPostgresGateway: with `database postgres` and `sessions database`
// on an empty database, first-run setup makes the administrator, who
// reaches the app and logs out; the CLI adds a user, who logs in.
func TestPostgresGateway(t *testing.T) {
	t.Parallel()
	g, _ := pgGateway(t)
	g.start()
	entry := g.caddy.WaitLog("no user exists yet", 10*time.Second)
	link, _ := entry["setup_path"].(string)
	lu, err := url.Parse(link)
	if err != nil || lu.Query().Get("token") == "" {
		t.Fatalf("setup_path = %q", link)
	}
	admin := g.client()
	apw := newPassword()
	form := url.Values{
		"token": {lu.Query().Get("token")}, "email": {"admin@example.test"}, "name": {"Admin"},
		"password": {apw}, "confirm": {apw},
	}
	expectStatus(t, admin.PostForm("/auth/setup", form, browser...), http.StatusSeeOther)
	expectStatus(t, admin.Get("/app", api...), http.StatusOK)
	atok := admin.Cookie(cookieName)
	expectStatus(t, admin.PostJSON("/auth/logout", map[string]string{}), http.StatusOK)
	expectError(t, g.client().Get("/app", hdr(api, withCookie(atok))...), http.StatusUnauthorized, "SESSION_EXPIRED")

	pw := newPassword()
	id := g.addUser("alice@example.test", "Alice", pw)
	c := g.client()
	c.Login("alice@example.test", pw)
	r := c.Get("/app", api...)
	expectStatus(t, r, http.StatusOK)
	if got := r.Echo().Values("Remote-User")["Remote-User"]; len(got) != 1 || got[0] != id {
		t.Errorf("Remote-User = %v, want %s", got, id)
	}
	tok := c.Cookie(cookieName)
	expectStatus(t, c.PostJSON("/auth/logout", map[string]string{}), http.StatusOK)
	expectError(t, g.client().Get("/app", hdr(api, withCookie(tok))...), http.StatusUnauthorized, "SESSION_EXPIRED")
}

// TestPostgresCrossInstanceRevoke: two gateway processes on one PostgreSQL
// database, no Redis. A logout (and a logout-all) on A is refused on B,
// which has the session cached for 5s, within a second: LISTEN/NOTIFY.
func TestPostgresCrossInstanceRevoke(t *testing.T) {
	t.Parallel()
	a, db := pgGateway(t)
	pw := newPassword()
	a.addUser("alice@example.test", "Alice", pw)
	a.start()
	bcfg := a.cfg
	bcfg.Port, bcfg.AdminPort = 0, 0
	b := harness.StartCaddy(t, a.bin, bcfg.Caddyfile(t))
	onB := harness.NewClient(t, b.URL)

	// B trusts its cache: a session deleted behind its back (no NOTIFY)
	// is still served from it. Without this, a B that never listened
	// (and so verifies every request) would pass the checks below.
	// B's listener comes up shortly after start; until then B verifies
	// every request, so this retries with a new session each time.
	cached, _ := harness.Eventually(5*time.Second, 100*time.Millisecond, func() bool {
		cp := a.client()
		cp.Login("alice@example.test", pw)
		probe := cp.Cookie(cookieName)
		expectStatus(t, onB.Get("/app", hdr(api, withCookie(probe))...), http.StatusOK)
		if !quietDelete(t, db.DSN, probe) {
			t.Fatal("probe session not in the database")
		}
		return onB.Get("/app", hdr(api, withCookie(probe))...).StatusCode == http.StatusOK
	})
	if !cached {
		t.Fatal("B never serves a cached session (its listener never came up?)")
	}

	ca := a.client()
	ca.Login("alice@example.test", pw)
	tok := ca.Cookie(cookieName)
	expectStatus(t, onB.Get("/app", hdr(api, withCookie(tok))...), http.StatusOK)
	expectStatus(t, ca.PostJSON("/auth/logout", map[string]string{}), http.StatusOK)
	_, took := waitStatus(t, onB, "/app", http.StatusUnauthorized, time.Second, hdr(api, withCookie(tok))...)
	t.Logf("PostgreSQL LISTEN/NOTIFY: B refused the session %s after logout on A", took.Round(time.Millisecond))
	expectError(t, onB.Get("/app", hdr(api, withCookie(tok))...), http.StatusUnauthorized, "SESSION_EXPIRED")

	// logout-all on A ends two sessions cached on B.
	c1, c2 := a.client(), a.client()
	c1.Login("alice@example.test", pw)
	c2.Login("alice@example.test", pw)
	toks := []string{c1.Cookie(cookieName), c2.Cookie(cookieName)}
	for _, tk := range toks {
		expectStatus(t, onB.Get("/app", hdr(api, withCookie(tk))...), http.StatusOK)
	}
	expectStatus(t, c1.PostJSON("/auth/logout-all", map[string]string{}), http.StatusOK)
	for _, tk := range toks {
		_, took := waitStatus(t, onB, "/app", http.StatusUnauthorized, time.Second, hdr(api, withCookie(tk))...)
		t.Logf("PostgreSQL LISTEN/NOTIFY: B refused a session %s after logout-all on A", took.Round(time.Millisecond))
	}

	// Disabling the account with the CLI (a third process) ends a
	// session cached on B.
	c3 := a.client()
	c3.Login("alice@example.test", pw)
	tok3 := c3.Cookie(cookieName)
	expectStatus(t, onB.Get("/app", hdr(api, withCookie(tok3))...), http.StatusOK)
	if out, errOut, code := a.cli("", "auth", "user", "disable", "alice@example.test", "--config", a.cfgPath); code != 0 {
		t.Fatalf("user disable: exit %d\n%s%s", code, out, errOut)
	}
	_, took = waitStatus(t, onB, "/app", http.StatusUnauthorized, time.Second, hdr(api, withCookie(tok3))...)
	t.Logf("PostgreSQL LISTEN/NOTIFY: B refused the session %s after the CLI disabled the user", took.Round(time.Millisecond))
}

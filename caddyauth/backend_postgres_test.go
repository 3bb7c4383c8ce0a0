package caddyauth

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/internal/pgtest"
	sqlstore "github.com/caddyauth/gateway/store/sql"
)

// pgDatabase is a fresh PostgreSQL database for one test (dropped after);
// the test fails, never skips, without a server.
func pgDatabase(t *testing.T) *pgtest.Database {
	t.Helper()
	db, err := pgtest.Create(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Drop(); err != nil {
			t.Errorf("drop %s: %v", db.Name, err)
		}
	})
	return db
}

// TestBackendPostgres: `database postgres {env.X}` with `sessions
// database` opens PostgreSQL for users and sessions and declares the
// LISTEN/NOTIFY revocation bus; rate limits stay in-process (no Redis).
func TestBackendPostgres(t *testing.T) {
	db := pgDatabase(t)
	t.Setenv("CADDYAUTH_TEST_PG_DSN", db.DSN)
	a := &App{Database: &DatabaseConfig{Driver: "postgres", DSN: "{env.CADDYAUTH_TEST_PG_DSN}"}}
	b, err := openBackend(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.sessions != b.db {
		t.Error("sessions database: the session store is not the database")
	}
	if _, ok := b.revocations.(*sqlstore.Revocations); !ok {
		t.Errorf("revocations = %T, want the PostgreSQL LISTEN/NOTIFY bus", b.revocations)
	}
	if b.newLimiter != nil {
		t.Error("shared limiter declared without Redis")
	}
	if b.tokens == nil || b.methods == nil {
		t.Error("database must provide tokens and the methods switch")
	}

	// {file.*} works as well (a DSN kept in a secrets file).
	path := filepath.Join(t.TempDir(), "pg-dsn")
	if err := os.WriteFile(path, []byte(db.DSN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a = &App{Database: &DatabaseConfig{Driver: "postgres", DSN: "{file." + path + "}"}}
	b2, err := openBackend(context.Background(), a)
	if err != nil {
		t.Fatalf("DSN from {file.*}: %v", err)
	}
	b2.Close()
}

// TestPostgresErrorHidesPassword: a refused connection names the option,
// never the password in the DSN.
func TestPostgresErrorHidesPassword(t *testing.T) {
	a := &App{Database: &DatabaseConfig{
		Driver: "postgres",
		DSN:    "postgres://caddy:Sup3rSecretPW@127.0.0.1:1/auth?sslmode=disable&connect_timeout=2",
	}}
	_, err := openBackend(context.Background(), a)
	if err == nil {
		t.Fatal("opened a database on port 1")
	}
	if strings.Contains(err.Error(), "Sup3rSecretPW") {
		t.Errorf("error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "database postgres") {
		t.Errorf("error does not name the option: %v", err)
	}
}

// TestCaddyfileDatabasePostgres: the Caddyfile form adapts to the driver
// and the placeholder, unresolved (resolved when the database is opened).
func TestCaddyfileDatabasePostgres(t *testing.T) {
	out, err := adapt(t, []byte(`{
	caddyauth {
		secret gm3uMXVSHuIziiIGqzSukSKdlldgsZPy_MB8kiBIID4
		database postgres {env.PG_DSN}
		sessions database
	}
}
`))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Apps struct {
			Caddyauth App `json:"caddyauth"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if db := cfg.Apps.Caddyauth.Database; db == nil || db.Driver != "postgres" || db.DSN != "{env.PG_DSN}" {
		t.Fatalf("database = %+v in %s", db, out)
	}
}

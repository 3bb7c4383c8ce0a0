package sqlstore

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/caddyauth/gateway/internal/pgtest"
)

// pgDB is this package run's throw-away PostgreSQL database (dropped at the
// end), or nil with pgErr saying why there is none.
var (
	pgDB  *pgtest.Database
	pgErr error
)

func TestMain(m *testing.M) {
	pgDB, pgErr = pgtest.Create(context.Background())
	code := m.Run()
	if pgDB != nil {
		if err := pgDB.Drop(); err != nil {
			fmt.Fprintf(os.Stderr, "drop test database %s: %v\n", pgDB.Name, err)
		}
	}
	os.Exit(code)
}

// pgDSN is a DSN to an empty schema of the test database; the test fails
// (never skips) when PostgreSQL is not there.
func pgDSN(t *testing.T) string {
	t.Helper()
	if pgErr != nil {
		t.Fatal(pgErr)
	}
	dsn, err := pgDB.Schema(context.Background())
	if err != nil {
		t.Fatalf("new schema: %v", err)
	}
	return dsn
}

// openPG opens a migrated store on an empty schema.
func openPG(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), "postgres", pgDSN(t))
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

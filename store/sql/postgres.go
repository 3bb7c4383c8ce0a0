package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/caddyauth/gateway/store"
)

var postgresDialect = dialect{name: "postgres", numbered: true, classify: classifyPostgres, lockTx: lockPostgresTx}

// Advisory lock keys, one per kind of serialised write. They only need to be
// distinct from each other and unlikely to clash with an application that
// shares the database; the high half spells "cadd".
const (
	lockMigrate   int64 = 0x63616464_00000001
	lockAudit     int64 = 0x63616464_00000002
	lockFirstUser int64 = 0x63616464_00000003
)

// pgMaxConns bounds one instance's pool; requests beyond it wait for a
// connection (within their context) rather than open more.
const pgMaxConns = 25

// openPostgres opens a pool on dsn (a libpq URL or key=value string, TLS
// through its sslmode/sslrootcert/sslcert/sslkey options, which pgx honours)
// and migrates the schema under a session advisory lock, so several
// instances starting together apply each migration once.
func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	if dsn == "" {
		return nil, errors.New("sqlstore: postgres needs a connection string")
	}
	// pgx parses the DSN lazily, at the first connection; its errors name
	// host, user and database but never the password.
	sdb, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
	}
	// database/sql keeps only 2 idle connections by default: when the
	// session cache expires under load, every request in flight misses at
	// once and the pool opens (and soon closes) dozens of connections,
	// which put the slowest 1% of requests near a second (docs/benchmarks.md,
	// Peers). Keep a working set open instead, and bound the total so three
	// instances stay well under PostgreSQL's default 100 connections.
	sdb.SetMaxOpenConns(pgMaxConns)
	sdb.SetMaxIdleConns(pgMaxConns)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	d := &DB{db: sdb, d: postgresDialect, dsn: dsn}
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, d.wrap("ping", err)
	}
	if err := d.migrateLocked(ctx); err != nil {
		sdb.Close()
		return nil, err
	}
	return d, nil
}

// migrateLocked runs migrate while holding the migration advisory lock on
// one pinned connection. A session lock, not a transaction one: each
// migration still commits on its own.
func (d *DB) migrateLocked(ctx context.Context) error {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return d.wrap("migrate", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockMigrate); err != nil {
		return d.wrap("migrate: take lock", err)
	}
	defer func() {
		// Background: the unlock must happen even when ctx has ended, or
		// the pooled connection would keep the lock.
		if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, lockMigrate); err != nil {
			// ErrBadConn makes the pool discard the connection, and the
			// server drops its locks with it.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return d.migrate(ctx)
}

// lockPostgresTx serialises transactions of one kind (the audit chain
// head, the first-run user) with a transaction advisory lock, released at
// commit or rollback. SQLite needs none: _txlock=immediate already takes
// the single write lock at BEGIN.
func lockPostgresTx(ctx context.Context, tx *sql.Tx, key int64) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, key)
	return err
}

func classifyPostgres(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return nil
	}
	switch pe.Code {
	case "23505": // unique_violation
		return store.ErrConflict
	case "23503": // foreign_key_violation: the referenced user is gone
		return store.ErrNotFound
	}
	return nil
}

// Package sqlstore keeps users, sessions and one-time tokens in SQL: SQLite
// (pure Go, modernc.org/sqlite) as the embedded default, PostgreSQL for
// several instances (pgx/v5 through database/sql; see postgres.go). The
// seam between them is the dialect type.
//
// Queries are written once with `?` placeholders and rebound per dialect.
// Times are stored as BIGINT Unix milliseconds, the one time type both
// databases agree on. The schema comes from numbered, embedded migrations;
// nothing is derived from Go types.
//
// Errors: store.ErrNotFound for a missing row (or a reference to a missing
// user), store.ErrConflict for a unique violation, and store.ErrUnavailable
// for everything else, so callers fail closed on any database trouble.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/caddyauth/gateway/store"
)

// DB is a SQL-backed store.UserStore, store.SessionStore and
// store.TokenStore. One DB is meant to be shared as all three.
type DB struct {
	db *sql.DB
	d  dialect
	// dsn is kept for the PostgreSQL listening connection; it may hold a
	// password, so it is never logged or put in an error.
	dsn string

	closeOnce sync.Once
	closeErr  error
}

var (
	_ store.UserStore    = (*DB)(nil)
	_ store.UserImporter = (*DB)(nil)
	_ store.SessionStore = (*DB)(nil)
	_ store.TokenStore   = (*DB)(nil)
)

// dialect is what differs between databases: placeholders, error codes and
// how a transaction serialises with others of its kind.
type dialect struct {
	name     string
	numbered bool // placeholders are $1..$n instead of ?
	// classify maps a driver error to store.ErrConflict or store.ErrNotFound,
	// or returns nil when the error is not one of those.
	classify func(error) error
	// lockTx serialises tx with every other transaction taking the same
	// key; nil when the database already serialises writers.
	lockTx func(ctx context.Context, tx *sql.Tx, key int64) error
}

var sqliteDialect = dialect{name: "sqlite", classify: classifySQLite}

// lockTx takes the dialect's lock for key in tx, if it needs one.
func (d *DB) lockTx(ctx context.Context, tx *sql.Tx, key int64) error {
	if d.d.lockTx == nil {
		return nil
	}
	return d.d.lockTx(ctx, tx, key)
}

// sqlitePragmas are set on every new connection: foreign keys for the
// cascades (SQLite has them off by default), WAL so readers do not block the
// writer, and a busy timeout so concurrent writers wait instead of failing.
// _txlock=immediate takes the write lock at BEGIN, so a transaction cannot
// fail half-way when it upgrades from reading to writing.
const sqlitePragmas = "_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate"

// Open opens the database and brings its schema up to date. driver is
// "sqlite" (dsn is a file path) or "postgres" (dsn is a libpq connection
// string or URL).
func Open(ctx context.Context, driver, dsn string) (*DB, error) {
	switch driver {
	case "sqlite":
		return openSQLite(ctx, dsn)
	case "postgres":
		return openPostgres(ctx, dsn)
	default:
		return nil, fmt.Errorf("sqlstore: unknown driver %q (want sqlite or postgres)", driver)
	}
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	dsn, err := sqliteDSN(path)
	if err != nil {
		return nil, err
	}
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	d := &DB{db: sdb, d: sqliteDialect}
	if err := pingFresh(ctx, sdb); err != nil {
		sdb.Close()
		return nil, d.wrap("ping", err)
	}
	if err := d.migrate(ctx); err != nil {
		sdb.Close()
		return nil, err
	}
	return d, nil
}

// pingFresh opens the first connection, retrying while SQLite says busy.
// Switching a new file to WAL needs an exclusive lock and SQLite does not run
// the busy handler for it, so a CLI command and a server (or two instances)
// opening the same fresh file at once would otherwise fail at random.
func pingFresh(ctx context.Context, sdb *sql.DB) error {
	deadline := time.Now().Add(5 * time.Second)
	wait := 5 * time.Millisecond
	for {
		err := sdb.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// sqliteDSN prepares path (parent directory 0700, file 0600, because the
// database holds password hashes) and returns the modernc URI for it. An
// existing file keeps its permissions: the operator may have chosen them.
// SQLite creates the -wal and -shm files with the main file's permissions.
func sqliteDSN(path string) (string, error) {
	if path == "" {
		return "", errors.New("sqlstore: sqlite needs a file path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("sqlstore: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return "", fmt.Errorf("sqlstore: create database directory: %w", err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", fmt.Errorf("sqlstore: create database file: %w", err)
	}
	f.Close()
	// In a URI filename '?', '#' and '%' are syntax; escape them so any path
	// works.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(abs))
	return "file:" + esc + "?" + sqlitePragmas, nil
}

func classifySQLite(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return store.ErrConflict
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		// The referenced user does not exist (or was just deleted).
		return store.ErrNotFound
	}
	return nil
}

// wrap turns a database error into one of the store sentinels, keeping the
// driver error in the chain for logs.
func (d *DB) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	}
	if kind := d.d.classify(err); kind != nil {
		return fmt.Errorf("sqlstore: %s: %w: %w", op, kind, err)
	}
	return fmt.Errorf("sqlstore: %s: %w: %w", op, store.ErrUnavailable, err)
}

// q rebinds a `?` query for the dialect.
func (d *DB) q(query string) string {
	if d.d.numbered {
		return rebind(query)
	}
	return query
}

// rebind replaces each `?` outside single-quoted literals with $1, $2, ...
// for PostgreSQL.
func rebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 8)
	n, inQuote := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			inQuote = !inQuote // '' inside a literal toggles twice: still correct
		case c == '?' && !inQuote:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	return d.wrap("ping", d.db.PingContext(ctx))
}

// Close closes the database. It is safe to call more than once, since the
// same DB is usually registered as user, session and token store.
func (d *DB) Close() error {
	d.closeOnce.Do(func() { d.closeErr = d.db.Close() })
	return d.closeErr
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMs(v int64) time.Time { return time.UnixMilli(v).UTC() }

// nullable stores "" as NULL, so unique indexes ignore absent values.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

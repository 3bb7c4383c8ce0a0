package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrSchemaTooNew means the database was migrated by a newer caddyauth.
// Running an older binary against it could misread or corrupt data, so Open
// refuses.
var ErrSchemaTooNew = errors.New("database schema is newer than this caddyauth binary")

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order. Files are named
// NNNN_description.sql and numbered 1, 2, 3... without gaps, so a missing
// or duplicated file is caught here instead of in production.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlstore: migration %s: name must be NNNN_description.sql", base)
		}
		body, err := migrationFiles.ReadFile(n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlstore: migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate applies every migration newer than the database, each in its own
// transaction together with its schema_migrations row, so a failure leaves
// the schema at the last complete version.
func (d *DB) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	latest := len(ms)
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return d.wrap("migrate", err)
	}
	cur, err := d.schemaVersion(ctx, d.db)
	if err != nil {
		return err
	}
	if cur > latest {
		return fmt.Errorf("sqlstore: %w: database is at version %d, this binary knows up to %d; upgrade caddyauth or restore a matching backup", ErrSchemaTooNew, cur, latest)
	}
	for _, m := range ms[cur:] {
		if err := d.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (d *DB) schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, d.wrap("read schema version", err)
	}
	return v, nil
}

// apply runs one migration. The version is re-read inside the transaction
// (which holds SQLite's write lock from BEGIN) so two instances starting at
// once do not both apply it; on PostgreSQL the caller also holds the
// migration advisory lock (migrateLocked), since there BEGIN takes none.
func (d *DB) apply(ctx context.Context, m migration) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return d.wrap("migrate "+m.name, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	cur, err := d.schemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if cur >= m.version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return d.wrap("migrate "+m.name, err)
	}
	if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`),
		m.version, time.Now().UnixMilli()); err != nil {
		return d.wrap("migrate "+m.name, err)
	}
	return d.wrap("migrate "+m.name, tx.Commit())
}

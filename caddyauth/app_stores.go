package caddyauth

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"

	sqlstore "github.com/caddyauth/gateway/store/sql"
)

// DefaultDatabasePath is the SQLite file used when no database is set.
func DefaultDatabasePath() string {
	return filepath.Join(caddy.AppDataDir(), "caddyauth", "caddyauth.db")
}

// openDatabase opens the configured user database.
func openDatabase(ctx context.Context, cfg *DatabaseConfig) (*sqlstore.DB, error) {
	driver, dsn := "sqlite", DefaultDatabasePath()
	if cfg != nil {
		driver = cfg.Driver
		if cfg.DSN != "" {
			dsn = cfg.DSN
		} else if driver != "sqlite" {
			return nil, fmt.Errorf("caddyauth: database %s needs a connection string", driver)
		}
	}
	dsn, err := caddy.NewReplacer().ReplaceOrErr(dsn, true, true)
	if err != nil {
		return nil, fmt.Errorf("caddyauth: database: %w", err)
	}
	db, err := sqlstore.Open(ctx, driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("caddyauth: database %s: %w", driver, err)
	}
	return db, nil
}

func (a *App) openStores(ctx context.Context) error {
	b, err := openBackend(ctx, a)
	if err != nil {
		return err
	}
	a.stores, a.db, a.users, a.sstore = b, b.db, b.db, b.sessions
	return nil
}

func (a *App) closeStores() {
	a.closeAudit()
	if a.stores != nil {
		a.stores.Close()
	}
	a.stores, a.sstore, a.db = nil, nil, nil
}

package caddyauth

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
	redisstore "github.com/caddyauth/gateway/store/redis"
	sqlstore "github.com/caddyauth/gateway/store/sql"
)

// backend is what the `database` and `sessions` options open: the user
// database and the session store (the database itself unless sessions are
// in Redis or memory).
type backend struct {
	db       *sqlstore.DB
	sessions store.SessionStore
}

// openBackend opens the stores a's config names, resolving placeholders
// ({env.X}, {file./path}) in the database DSN and the Redis URL. The server
// (Provision) and every `caddy auth` command call it, so the CLI always acts
// on the stores the running servers use: a command that ends sessions
// cannot miss them because it read the config differently (issue 9).
func openBackend(ctx context.Context, a *App) (*backend, error) {
	db, err := openDatabase(ctx, a.Database)
	if err != nil {
		return nil, err
	}
	b := &backend{db: db, sessions: db}
	switch name := a.sessionsBackend(); name {
	case "database":
	case "memory":
		b.sessions = memory.New()
	case "redis":
		rs, err := openRedis(a.Sessions.URL)
		if err != nil {
			b.Close()
			return nil, err
		}
		b.sessions = rs
	default:
		b.Close()
		return nil, fmt.Errorf("caddyauth: unknown sessions backend %q (want database, redis or memory)", name)
	}
	return b, nil
}

// openRedis resolves the `sessions redis` URL and opens the store. Errors
// name the option, never the URL (it may hold a password).
func openRedis(raw string) (*redisstore.Store, error) {
	url, err := caddy.NewReplacer().ReplaceOrErr(raw, true, true)
	if err != nil {
		return nil, fmt.Errorf("caddyauth: sessions redis: %w", err)
	}
	rs, err := redisstore.NewFromURL(url)
	if err != nil {
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return nil, fmt.Errorf("caddyauth: sessions redis: %w", err)
	}
	return rs, nil
}

// Close closes the session store (when it is not the database) and the
// database.
func (b *backend) Close() {
	if b.sessions != nil && b.sessions != store.SessionStore(b.db) {
		_ = b.sessions.Close()
	}
	if b.db != nil {
		_ = b.db.Close()
	}
}

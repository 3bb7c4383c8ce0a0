package caddyauth

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/internal/methods"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
	redisstore "github.com/caddyauth/gateway/store/redis"
	sqlstore "github.com/caddyauth/gateway/store/sql"
)

// backend is what the `database` and `sessions` options open: the user
// database and the session store (the database itself unless sessions are
// in Redis or memory), with the capabilities they bring.
//
// The capabilities are declared fields, set where the store is opened and
// pinned by the interface guards below, rather than discovered later by a
// type assertion on a concrete store: a store that stops providing one
// fails to compile instead of silently losing cross-instance revocation,
// shared rate limits, code purging or the methods admin API (a 404).
type backend struct {
	db       *sqlstore.DB
	sessions store.SessionStore
	// tokens keeps one-time codes and drops the older ones of a purpose
	// when a new one is sent.
	tokens flows.TokenStore
	// methods is the runtime auth-method switch, shared by every
	// instance through the database; the admin API lists and flips it.
	methods flows.MethodAdmin
	// revocations carries session revocations between instances: Redis
	// pub/sub with `sessions redis`, PostgreSQL LISTEN/NOTIFY with
	// `sessions database` on `database postgres`; nil otherwise (SQLite
	// and memory are one instance).
	revocations revocationBus
	// newLimiter shares rate-limit budgets between instances (Redis); nil
	// keeps the buckets in-process.
	newLimiter flows.NewLimiter
}

// revocationBus tells other instances about revocations and hears theirs.
// SubscribeRevoked runs until ctx ends: onRevoke for each id heard,
// onResync at every (re)subscription (messages may have been missed), and
// onLost when the bus knows its connection is gone (the cache must not be
// trusted until onResync).
type revocationBus interface {
	session.Broadcaster
	SubscribeRevoked(ctx context.Context, onRevoke func(id string), onResync, onLost func())
}

// redisBus adapts Redis pub/sub to revocationBus. go-redis reconnects and
// resubscribes by itself and reports only the resubscription, so onLost is
// never called: the cache TTL bounds what a Redis outage can leave stale.
type redisBus struct{ *redisstore.Store }

func (r redisBus) SubscribeRevoked(ctx context.Context, onRevoke func(id string), onResync, _ func()) {
	r.Store.SubscribeRevoked(ctx, onRevoke, onResync)
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
	b := &backend{
		db: db, sessions: db, tokens: db,
		methods: methods.New(db, methods.DefaultTTL, a.offeredMethods()),
	}
	switch name := a.sessionsBackend(); name {
	case "database":
		if rv := db.Revocations(); rv != nil {
			b.revocations = rv
		}
	case "memory":
		b.sessions = memory.New()
	case "redis":
		rs, err := openRedis(a.Sessions)
		if err != nil {
			b.Close()
			return nil, err
		}
		b.sessions, b.revocations, b.newLimiter = rs, redisBus{rs}, sharedLimiters(rs)
	default:
		b.Close()
		return nil, fmt.Errorf("caddyauth: unknown sessions backend %q (want database, redis or memory)", name)
	}
	return b, nil
}

// openRedis resolves the placeholders of `sessions redis` and opens the
// store (standalone, Sentinel or Cluster). Errors name the option, never a
// URL or password.
func openRedis(s *SessionsConfig) (*redisstore.Store, error) {
	c, err := s.resolvedRedisConfig()
	if err != nil {
		return nil, err // names the option already
	}
	rs, err := redisstore.Open(c)
	if err != nil {
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return nil, fmt.Errorf("caddyauth: sessions redis: %w", err)
	}
	return rs, nil
}

// sharedLimiters keeps each rate-limit bucket in rs, so every instance
// spends one budget.
func sharedLimiters(rs *redisstore.Store) flows.NewLimiter {
	return func(bucket string, r ratelimit.Rate) ratelimit.Limiter {
		return ratelimit.NewRedis(rs.Client(), rs.Prefix()+"ratelimit:"+bucket+":", r)
	}
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

// Interface guards: the stores provide the capabilities the backend
// declares.
var (
	_ flows.TokenStore  = (*sqlstore.DB)(nil)
	_ flows.MethodAdmin = (*methods.Switch)(nil)
	_ revocationBus     = redisBus{}
	_ revocationBus     = (*sqlstore.Revocations)(nil)
	_ notify.Queue      = (*notify.Outbox)(nil)
)

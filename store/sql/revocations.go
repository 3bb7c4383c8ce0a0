package sqlstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// revokedChannel is the LISTEN/NOTIFY channel that carries revoked session
// ids (hex hashes, never tokens) between instances on one database.
const revokedChannel = "caddyauth_revoked"

// notifyMax keeps a payload under PostgreSQL's 8000-byte NOTIFY limit: 64
// hex characters and a comma per id.
const notifyMax = 100

// Revocations carries session revocations between instances through
// PostgreSQL LISTEN/NOTIFY, for deployments without Redis. It is what
// redisstore's pub/sub is for Redis.
type Revocations struct {
	db  *DB
	dsn string
	// Waits on the listening connection: how long a read blocks before the
	// connection is pinged, and how long the ping may take. A connection
	// that dies silently is noticed within their sum.
	idle, ping time.Duration
}

// Revocations returns the database's revocation bus, or nil when the
// database is not PostgreSQL (SQLite has one instance: nothing to tell).
func (d *DB) Revocations() *Revocations {
	if d.d.name != "postgres" {
		return nil
	}
	return &Revocations{db: d, dsn: d.dsn, idle: 10 * time.Second, ping: 3 * time.Second}
}

// PublishRevoked tells every listening instance that the sessions ids are
// gone. NOTIFY is transactional and delivered to every listener on the
// database, including this instance's own (dropping an id twice is
// harmless).
func (r *Revocations) PublishRevoked(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), notifyMax)
		if _, err := r.db.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, revokedChannel, strings.Join(ids[:n], ",")); err != nil {
			return r.db.wrap("publish revoked", err)
		}
		ids = ids[n:]
	}
	return nil
}

// SubscribeRevoked listens on its own connection until ctx ends, calling
// onRevoke for every id another instance (or the CLI) revokes. onLost runs
// when the connection is lost and before the first LISTEN succeeds (the
// caller stops trusting its cache); onResync runs at every (re)subscription
// (messages sent meanwhile are lost, so the caller drops its cache and may
// trust it again). It reconnects by itself with a capped backoff.
func (r *Revocations) SubscribeRevoked(ctx context.Context, onRevoke func(id string), onResync, onLost func()) {
	wait := 50 * time.Millisecond
	for ctx.Err() == nil {
		onLost()
		err := r.listen(ctx, onRevoke, onResync)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errListening) {
			wait = 50 * time.Millisecond // it worked for a while: retry at once
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// errListening marks a connection lost after LISTEN had succeeded.
var errListening = errors.New("listening connection lost")

func (r *Revocations) listen(ctx context.Context, onRevoke func(string), onResync func()) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(cctx, r.dsn)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+revokedChannel); err != nil {
		return err
	}
	onResync()
	for {
		wctx, cancel := context.WithTimeout(ctx, r.idle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			for _, id := range strings.Split(n.Payload, ",") {
				if id != "" {
					onRevoke(id)
				}
			}
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.Is(err, context.DeadlineExceeded):
			return errListening
		}
		// Quiet for a while: make sure the connection is still there.
		pctx, cancel := context.WithTimeout(ctx, r.ping)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			return errListening
		}
	}
}

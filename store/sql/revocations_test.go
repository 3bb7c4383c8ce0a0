package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/session"
)

// instance is one gateway's view: its own pool, session manager and
// listener on the shared database.
type instance struct {
	db      *DB
	mgr     *session.Manager
	lost    chan struct{} // one value per onLost
	synced  chan struct{} // one value per onResync
	release chan struct{} // when set, onLost after the first sync waits on it (holds the outage open)
	up      atomic.Bool
}

func newInstance(t *testing.T, dsn string, hold bool) *instance {
	t.Helper()
	db, err := Open(context.Background(), "postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mgr, err := session.New(db, db, session.Config{})
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{db: db, mgr: mgr, lost: make(chan struct{}, 16), synced: make(chan struct{}, 16)}
	if hold {
		in.release = make(chan struct{})
	}
	bus := db.Revocations()
	if bus == nil {
		t.Fatal("no revocation bus on PostgreSQL")
	}
	mgr.SetBroadcaster(bus)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		bus.SubscribeRevoked(ctx, mgr.Forget,
			func() { mgr.FlushCache(); mgr.BypassCache(false); in.up.Store(true); in.synced <- struct{}{} },
			func() {
				mgr.BypassCache(true)
				if !in.up.Load() {
					return // before the first LISTEN
				}
				in.lost <- struct{}{}
				if in.release != nil {
					select {
					case <-in.release:
					case <-ctx.Done():
					}
				}
			})
	}()
	waitFor(t, in.synced, "first LISTEN")
	return in
}

func waitFor(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestPGRevocationReachesOtherInstance: a logout on A is refused on B,
// which had the session cached, within a second.
func TestPGRevocationReachesOtherInstance(t *testing.T) {
	ctx := context.Background()
	dsn := pgDSN(t)
	a := newInstance(t, dsn, false)
	b := newInstance(t, dsn, false)
	adder(a.db)(t, "u1")
	u, _ := a.db.UserByID(ctx, "u1")

	id, err := a.mgr.Create(ctx, u, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.mgr.Validate(ctx, id.Token); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := a.mgr.Revoke(ctx, id.Token); err != nil {
		t.Fatal(err)
	}
	for {
		// A cached hit costs no store read; only the NOTIFY can end it
		// before the 5 s cache TTL.
		_, err := b.mgr.Validate(ctx, id.Token)
		if errors.Is(err, session.ErrNoSession) {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("instance B still accepts the session %s after logout on A", time.Since(start))
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("logout on A refused on B after %s", time.Since(start))

	// logout-all (and disable, password change: all RevokeUser) too.
	ids := make([]*session.Identity, 3)
	for i := range ids {
		if ids[i], err = a.mgr.Create(ctx, u, "", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := b.mgr.Validate(ctx, ids[i].Token); err != nil {
			t.Fatal(err)
		}
	}
	start = time.Now()
	if _, err := a.mgr.RevokeUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		for {
			if _, err := b.mgr.Validate(ctx, id.Token); errors.Is(err, session.ErrNoSession) {
				break
			}
			if time.Since(start) > time.Second {
				t.Fatalf("instance B still accepts a session after logout-all on A (%s)", time.Since(start))
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	t.Logf("logout-all on A refused on B after %s", time.Since(start))
}

// TestPGListenerLossBypassesCache kills B's listening connection. Until it
// is back B verifies every request with the store, so a revocation whose
// message it could not hear is still refused; once back it caches again.
func TestPGListenerLossBypassesCache(t *testing.T) {
	ctx := context.Background()
	dsn := pgDSN(t)
	a := newInstance(t, dsn, false)
	b := newInstance(t, dsn, true)
	adder(a.db)(t, "u1")
	u, _ := a.db.UserByID(ctx, "u1")
	quiet, _ := session.New(a.db, a.db, session.Config{CacheTTL: -1}) // revokes without telling anyone

	id, err := a.mgr.Create(ctx, u, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.mgr.Validate(ctx, id.Token); err != nil {
		t.Fatal(err)
	}
	// Kill every listening backend of this database (B's, and A's).
	var killed int
	if err := a.db.db.QueryRowContext(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN %'`).Scan(&killed); err != nil || killed == 0 {
		t.Fatalf("terminated %d listeners, %v", killed, err)
	}
	waitFor(t, b.lost, "B noticing the lost connection")
	if !b.mgr.CacheBypassed() {
		t.Fatal("cache still trusted with the listener down")
	}
	// Revoked with no message at all: B must see it from the store.
	if err := quiet.Revoke(ctx, id.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := b.mgr.Validate(ctx, id.Token); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("stale cache hit served while the listener is down: err = %v", err)
	}
	// And nothing is cached meanwhile: every request reads the store.
	live, _ := a.mgr.Create(ctx, u, "", "")
	if _, err := b.mgr.Validate(ctx, live.Token); err != nil {
		t.Fatal(err)
	}
	if err := quiet.Revoke(ctx, live.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := b.mgr.Validate(ctx, live.Token); !errors.Is(err, session.ErrNoSession) {
		t.Fatal("session cached while the listener was down")
	}

	close(b.release)
	waitFor(t, b.synced, "B listening again")
	if b.mgr.CacheBypassed() {
		t.Fatal("cache still bypassed after the listener is back")
	}
	// Back to normal: revocations arrive by message again.
	again, _ := a.mgr.Create(ctx, u, "", "")
	if _, err := b.mgr.Validate(ctx, again.Token); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a.synced, "A listening again")
	start := time.Now()
	if err := a.mgr.Revoke(ctx, again.Token); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := b.mgr.Validate(ctx, again.Token); errors.Is(err, session.ErrNoSession) {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatal("revocation not heard after the listener reconnected")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestPGRevocationsOnlyOnPostgres: SQLite has no bus (one instance).
func TestPGRevocationsOnlyOnPostgres(t *testing.T) {
	if openTemp(t).Revocations() != nil {
		t.Fatal("SQLite database offers a revocation bus")
	}
}

// TestPGPublishManyIDs: more ids than one NOTIFY payload holds all arrive.
func TestPGPublishManyIDs(t *testing.T) {
	dsn := pgDSN(t)
	a := newInstance(t, dsn, false)
	var heard atomic.Int64
	db, err := Open(context.Background(), "postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	synced := make(chan struct{}, 4)
	go db.Revocations().SubscribeRevoked(ctx, func(string) { heard.Add(1) }, func() { synced <- struct{}{} }, func() {})
	waitFor(t, synced, "LISTEN")
	ids := make([]string, 250)
	for i := range ids {
		ids[i] = fmt.Sprintf("%064x", i)
	}
	if err := a.db.Revocations().PublishRevoked(context.Background(), ids); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for heard.Load() < int64(len(ids)) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if heard.Load() != int64(len(ids)) {
		t.Fatalf("heard %d ids, want %d", heard.Load(), len(ids))
	}
}

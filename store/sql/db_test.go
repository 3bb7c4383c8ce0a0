package sqlstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/storetest"
)

// openTemp opens a fresh SQLite database in a not-yet-existing directory
// under t.TempDir(), so Open's directory creation is exercised too.
func openTemp(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "data", "auth.db"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// adder makes user rows so the sessions and tokens foreign keys hold.
func adder(db *DB) storetest.AddUser {
	return func(t *testing.T, id string) {
		t.Helper()
		u := &store.User{ID: id, Email: id + "@example.com", Status: store.StatusActive}
		if err := db.CreateUser(context.Background(), u); err != nil {
			t.Fatalf("add user %s: %v", id, err)
		}
	}
}

func TestUserStore(t *testing.T) {
	storetest.TestUserStore(t, func(t *testing.T) store.UserStore { return openTemp(t) })
}

func TestSessionStore(t *testing.T) {
	storetest.TestSessionStore(t, func(t *testing.T) (store.SessionStore, storetest.AddUser) {
		db := openTemp(t)
		return db, adder(db)
	})
}

func TestTokenStore(t *testing.T) {
	storetest.TestTokenStore(t, func(t *testing.T) (store.TokenStore, storetest.AddUser) {
		db := openTemp(t)
		return db, adder(db)
	})
}

func TestGrantStore(t *testing.T) {
	storetest.TestGrantStore(t, func(t *testing.T) (store.GrantStore, storetest.AddUser) {
		db := openTemp(t)
		return db, adder(db)
	})
}

func TestOutboxStore(t *testing.T) {
	storetest.TestOutboxStore(t, func(t *testing.T) (store.OutboxStore, storetest.AddUser) {
		db := openTemp(t)
		return db, adder(db)
	})
}

func TestDeleteUserCascades(t *testing.T) {
	db := openTemp(t)
	storetest.TestDeleteUserCascades(t, db, db, db)
	var n int
	if err := db.db.QueryRow(`SELECT COUNT(*) FROM sessions WHERE user_id = 'gone'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("session rows of deleted user = %d, %v; want 0", n, err)
	}
}

func TestSessionForMissingUser(t *testing.T) {
	db := openTemp(t)
	now := time.Now()
	err := db.CreateSession(context.Background(), &store.Session{
		ID: storetest.NewID(), UserID: "nobody", CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour),
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound (foreign key)", err)
	}
}

func TestPurgeRemovesRows(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	adder(db)(t, "u1")
	now := time.Now()
	for _, exp := range []time.Duration{-time.Second, -time.Minute, time.Hour} {
		if err := db.CreateSession(ctx, &store.Session{
			ID: storetest.NewID(), UserID: "u1", CreatedAt: now,
			LastSeenAt: now, ExpiresAt: now.Add(exp), IdleExpiresAt: now.Add(time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateToken(ctx, &store.OneTimeToken{
			Hash: storetest.NewID(), Purpose: "p",
			UserID: "u1", ExpiresAt: now.Add(exp),
		}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := db.PurgeExpired(ctx, now)
	if err != nil || n != 2 {
		t.Fatalf("purge = %d, %v; want 2", n, err)
	}
	for _, table := range []string{"sessions", "one_time_tokens"} {
		var rows int
		if err := db.db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&rows); err != nil || rows != 1 {
			t.Errorf("%s rows after purge = %d, %v; want 1", table, rows, err)
		}
	}
}

func TestFilePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir")
	path := filepath.Join(dir, "auth.db")
	db, err := Open(context.Background(), "sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	adder(db)(t, "u1") // a write, so the WAL file exists
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600, path + "-wal": 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("stat %s: %v", p, err)
			continue
		}
		if got := fi.Mode().Perm(); got&^want != 0 {
			t.Errorf("%s mode = %v, want at most %v", p, got, want)
		}
	}
}

// TestPragmas checks every pooled connection, not just the first: pragmas
// are per connection, and a connection without foreign_keys would silently
// skip the cascades.
func TestPragmas(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	var conns []interface{ Close() error }
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 3 {
		c, err := db.db.Conn(ctx) // held open, so each iteration gets a new connection
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var fk, busy int
		var mode string
		if err := c.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if fk != 1 || busy != 5000 || !strings.EqualFold(mode, "wal") {
			t.Errorf("conn %d: foreign_keys=%d busy_timeout=%d journal_mode=%s; want 1, 5000, wal", i, fk, busy, mode)
		}
	}
}

func TestPathNeedsEscaping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd dir ?#%41", "auth.db")
	db, err := Open(context.Background(), "sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	adder(db)(t, "u1")
	db.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the literal path: %v", err)
	}
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "auth.db")
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	latest := len(ms)

	db, err := Open(ctx, "sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	adder(db)(t, "u1")
	db.Close()

	// Reopening applies nothing and keeps the data.
	db, err = Open(ctx, "sqlite", path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	var rows, maxV int
	if err := db.db.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&rows, &maxV); err != nil {
		t.Fatal(err)
	}
	if rows != latest || maxV != latest {
		t.Errorf("schema_migrations: %d rows, max %d; want %d, %d", rows, maxV, latest, latest)
	}
	if _, err := db.UserByID(ctx, "u1"); err != nil {
		t.Errorf("data lost on reopen: %v", err)
	}

	// A database from a newer binary is refused, not used.
	if _, err := db.db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, latest+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(ctx, "sqlite", path)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("open newer schema: err = %v, want ErrSchemaTooNew", err)
	}
}

// TestConcurrentOpen: two instances starting on the same fresh file must
// not both apply a migration.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := Open(context.Background(), "sqlite", path)
			if err != nil {
				t.Errorf("open: %v", err)
				return
			}
			db.Close()
		}()
	}
	wg.Wait()
}

func TestMFAStore(t *testing.T) {
	storetest.TestMFAStore(t, func(t *testing.T) storetest.MFAStores { return openTemp(t) })
}

func TestDrivers(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, "postgres", ""); err == nil {
		t.Error("empty postgres DSN accepted")
	}
	if _, err := Open(ctx, "mysql", "x"); err == nil {
		t.Error("unknown driver accepted")
	}
	if _, err := Open(ctx, "sqlite", ""); err == nil {
		t.Error("empty sqlite path accepted")
	}
}

// TestClosedFailsClosed: with the database gone every call reports
// ErrUnavailable, never a result or ErrNotFound a caller could misread.
func TestClosedFailsClosed(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	now := time.Now()
	u := &store.User{ID: "u1", Email: "u1@example.com"}
	s := &store.Session{ID: "s1", UserID: "u1", ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}
	checks := map[string]error{
		"Ping":               db.Ping(ctx),
		"CreateUser":         db.CreateUser(ctx, u),
		"UpdateUser":         db.UpdateUser(ctx, u),
		"DeleteUser":         db.DeleteUser(ctx, "u1"),
		"CreateSession":      db.CreateSession(ctx, s),
		"TouchSession":       db.TouchSession(ctx, "s1", now, now),
		"DeleteSession":      db.DeleteSession(ctx, "s1"),
		"CreateToken":        db.CreateToken(ctx, &store.OneTimeToken{Hash: "h", Purpose: "p", ExpiresAt: now}),
		"UserByID":           second(db.UserByID(ctx, "u1")),
		"UserByEmail":        second(db.UserByEmail(ctx, "u1@example.com")),
		"ListUsers":          second(db.ListUsers(ctx)),
		"CountUsers":         second(db.CountUsers(ctx)),
		"GetSession":         second(db.GetSession(ctx, "s1")),
		"ListUserSessions":   second(db.ListUserSessions(ctx, "u1")),
		"DeleteUserSessions": second(db.DeleteUserSessions(ctx, "u1")),
		"PurgeExpired":       second(db.PurgeExpired(ctx, now)),
		"ConsumeToken":       second(db.ConsumeToken(ctx, "h", "p", now)),
		"PeekToken":          second(db.PeekToken(ctx, "h", "p", now)),
	}
	for op, err := range checks {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s on a closed DB: err = %v, want ErrUnavailable", op, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestRebind(t *testing.T) {
	for in, want := range map[string]string{
		`SELECT 1`:                              `SELECT 1`,
		`a = ? AND b = ?`:                       `a = $1 AND b = $2`,
		`x = '?' AND y = ? AND z = 'it''s ?' ?`: `x = '?' AND y = $1 AND z = 'it''s ?' $2`,
	} {
		if got := rebind(in); got != want {
			t.Errorf("rebind(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDeleteUserTokens(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	now := time.Now()
	for _, u := range []string{"u1", "u2"} {
		adder(db)(t, u)
	}
	for _, tk := range []*store.OneTimeToken{
		{Hash: "a", Purpose: "mfa_code", UserID: "u1", ExpiresAt: now.Add(time.Hour)},
		{Hash: "b", Purpose: "mfa_code", UserID: "u1", ExpiresAt: now.Add(time.Hour)},
		{Hash: "c", Purpose: "setup", UserID: "u1", ExpiresAt: now.Add(time.Hour)},
		{Hash: "d", Purpose: "mfa_code", UserID: "u2", ExpiresAt: now.Add(time.Hour)},
		{Hash: "e", Purpose: "setup", ExpiresAt: now.Add(time.Hour)}, // bound to no user
		{Hash: "f", Purpose: "setup", ExpiresAt: now.Add(time.Hour)},
	} {
		if err := db.CreateToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteUserTokens(ctx, "u1", "mfa_code"); err != nil {
		t.Fatal(err)
	}
	// "" means the tokens bound to no user: e and f go, u1's setup token c stays.
	if err := db.DeleteUserTokens(ctx, "", "setup"); err != nil {
		t.Fatal(err)
	}
	purpose := map[string]string{"a": "mfa_code", "b": "mfa_code", "c": "setup", "d": "mfa_code", "e": "setup", "f": "setup"}
	for h, want := range map[string]bool{"a": false, "b": false, "c": true, "d": true, "e": false, "f": false} {
		_, err := db.PeekToken(ctx, h, purpose[h], now)
		if (err == nil) != want {
			t.Errorf("token %s present = %v, want %v", h, err == nil, want)
		}
	}
}

func TestInvitationStore(t *testing.T) {
	storetest.TestInvitationStore(t, func(t *testing.T) storetest.InvitationStores { return openTemp(t) })
}

func TestUserImporter(t *testing.T) {
	storetest.TestUserImporter(t, func(t *testing.T) storetest.ImportStores { return openTemp(t) })
}

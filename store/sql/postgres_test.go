package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/storetest"
)

// The whole conformance suite, on PostgreSQL: each open is a fresh schema.

func TestPGUserStore(t *testing.T) {
	storetest.TestUserStore(t, func(t *testing.T) store.UserStore { return openPG(t) })
}

func TestPGUserEmailFolding(t *testing.T) {
	storetest.TestUserEmailFolding(t, func(t *testing.T) store.UserStore { return openPG(t) })
}

func TestPGSessionStore(t *testing.T) {
	storetest.TestSessionStore(t, func(t *testing.T) (store.SessionStore, storetest.AddUser) {
		db := openPG(t)
		return db, adder(db)
	})
}

func TestPGTokenStore(t *testing.T) {
	storetest.TestTokenStore(t, func(t *testing.T) (store.TokenStore, storetest.AddUser) {
		db := openPG(t)
		return db, adder(db)
	})
}

func TestPGGrantStore(t *testing.T) {
	storetest.TestGrantStore(t, func(t *testing.T) (store.GrantStore, storetest.AddUser) {
		db := openPG(t)
		return db, adder(db)
	})
}

func TestPGOutboxStore(t *testing.T) {
	storetest.TestOutboxStore(t, func(t *testing.T) (store.OutboxStore, storetest.AddUser) {
		db := openPG(t)
		return db, adder(db)
	})
}

func TestPGMFAStore(t *testing.T) {
	storetest.TestMFAStore(t, func(t *testing.T) storetest.MFAStores { return openPG(t) })
}

func TestPGAuditStore(t *testing.T) {
	storetest.TestAuditStore(t, func(t *testing.T) store.AuditStore { return openPG(t) })
}

func TestPGIdentityStore(t *testing.T) {
	storetest.TestIdentityStore(t, func(t *testing.T) storetest.Identities { return openPG(t) })
}

func TestPGAPIKeyStore(t *testing.T) {
	storetest.TestAPIKeyStore(t, func(t *testing.T) storetest.APIKeys { return openPG(t) })
}

func TestPGSettingsStore(t *testing.T) {
	storetest.TestSettingsStore(t, func(t *testing.T) store.SettingsStore { return openPG(t) })
}

func TestPGLockoutStore(t *testing.T) {
	storetest.TestLockoutStore(t, func(t *testing.T) store.LockoutStore { return openPG(t) })
}

func TestPGLockoutReserve(t *testing.T) {
	storetest.TestLockoutReserve(t, func(t *testing.T) store.LockoutStore { return openPG(t) })
}

func TestPGDeleteUserCascades(t *testing.T) {
	db := openPG(t)
	storetest.TestDeleteUserCascades(t, db, db, db)
	var n int
	if err := db.db.QueryRow(`SELECT COUNT(*) FROM sessions WHERE user_id = 'gone'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("session rows of deleted user = %d, %v; want 0", n, err)
	}
}

// TestPGErrorClasses: unique violation -> ErrConflict, a missing
// referenced user -> ErrNotFound.
func TestPGErrorClasses(t *testing.T) {
	ctx := context.Background()
	db := openPG(t)
	adder(db)(t, "u1")
	err := db.CreateUser(ctx, &store.User{ID: "u2", Email: "u1@example.com", Status: store.StatusActive})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate email: err = %v, want ErrConflict", err)
	}
	now := time.Now()
	err = db.CreateSession(ctx, &store.Session{
		ID: storetest.NewID(), UserID: "nobody", CreatedAt: now,
		LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour),
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session of a missing user: err = %v, want ErrNotFound", err)
	}
}

// TestPGConcurrentOpen: several instances starting at once on an empty
// database all succeed and the schema is applied once (the advisory lock).
func TestPGConcurrentOpen(t *testing.T) {
	dsn := pgDSN(t)
	var wg sync.WaitGroup
	dbs := make([]*DB, 6)
	for i := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := Open(context.Background(), "postgres", dsn)
			if err != nil {
				t.Errorf("open %d: %v", i, err)
				return
			}
			dbs[i] = db
		}()
	}
	wg.Wait()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range dbs {
		if db != nil {
			defer db.Close()
		}
	}
	if dbs[0] == nil {
		t.FailNow()
	}
	var rows, maxV int
	if err := dbs[0].db.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&rows, &maxV); err != nil {
		t.Fatal(err)
	}
	if rows != len(ms) || maxV != len(ms) {
		t.Errorf("schema_migrations: %d rows, max %d; want %d, %d", rows, maxV, len(ms), len(ms))
	}
	// The lock is released: a later open does not wait for it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db, err := Open(ctx, "postgres", dsn)
	if err != nil {
		t.Fatalf("open after the others: %v", err)
	}
	db.Close()
}

// TestPGMigrationsSchemaTooNew: a database from a newer binary is refused.
func TestPGMigrationsSchemaTooNew(t *testing.T) {
	dsn := pgDSN(t)
	db, err := Open(context.Background(), "postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(context.Background(), "postgres", dsn); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("err = %v, want ErrSchemaTooNew", err)
	}
}

// TestPGIndexes: the indexes DESIGN.md lists exist on PostgreSQL too.
func TestPGIndexes(t *testing.T) {
	db := openPG(t)
	for _, name := range []string{"users_email", "users_phone", "sessions_user_id", "identities_pkey", "identities_user_provider"} {
		var n int
		if err := db.db.QueryRow(`SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1`, name).Scan(&n); err != nil || n != 1 {
			t.Errorf("index %s: %d, %v; want present", name, n, err)
		}
	}
}

// TestPGFirstUserOnce: first-run setup racing on several handles makes
// exactly one user.
func TestPGFirstUserOnce(t *testing.T) {
	dsn := pgDSN(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	made := 0
	for i := range 6 {
		db, err := Open(context.Background(), "postgres", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := db.CreateFirstUser(context.Background(), &store.User{
				ID:    fmt.Sprint("admin", i),
				Email: fmt.Sprintf("admin%d@example.com", i), Status: store.StatusActive,
			})
			switch {
			case err == nil:
				mu.Lock()
				made++
				mu.Unlock()
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("first user %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if made != 1 {
		t.Errorf("first users made = %d, want 1", made)
	}
}

// TestPGAuditSeveralHandles: independent pools (like instances) append at
// once and the chain stays one line.
func TestPGAuditSeveralHandles(t *testing.T) {
	dsn := pgDSN(t)
	var dbs []*DB
	for range 3 {
		db, err := Open(context.Background(), "postgres", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	const each = 20
	var wg sync.WaitGroup
	for i, db := range dbs {
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range each {
					if _, err := db.AppendAudit(context.Background(), seal(fmt.Sprintf("h%d.g%d.%d", i, g, j))); err != nil {
						t.Errorf("append: %v", err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	checkLinear(t, dbs[0], len(dbs)*2*each)
}

// TestPGUnreachableFailsClosed: a server that does not answer is
// ErrUnavailable, and the error never shows the DSN's password.
func TestPGUnreachableFailsClosed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres", "postgres://caddy:s3cretPW@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
	if err != nil && strings.Contains(err.Error(), "s3cretPW") {
		t.Errorf("error shows the password: %v", err)
	}
	_, err = Open(ctx, "postgres", "postgres://caddy:s3cretPW@127.0.0.1:5432/x?sslmode=nonsense")
	if err == nil || strings.Contains(err.Error(), "s3cretPW") {
		t.Errorf("bad sslmode: err = %v; want an error without the password", err)
	}
}

// TestPGClosedFailsClosed: a closed handle answers ErrUnavailable.
func TestPGClosedFailsClosed(t *testing.T) {
	db := openPG(t)
	db.Close()
	if _, err := db.UserByID(context.Background(), "u1"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
	if _, err := db.GetSession(context.Background(), "s1"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
}

func TestPGInvitationStore(t *testing.T) {
	storetest.TestInvitationStore(t, func(t *testing.T) storetest.InvitationStores { return openPG(t) })
}

func TestPGUserImporter(t *testing.T) {
	storetest.TestUserImporter(t, func(t *testing.T) storetest.ImportStores { return openPG(t) })
}

package session

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
	sqlstore "github.com/caddyauth/gateway/store/sql"
)

// TestCapHoldsUnderConcurrentLogins: issue 9 item 9. With
// max_sessions_per_user 2 on the database backend, 20 concurrent logins of
// one user left 3 sessions alive now and then: the manager listed, evicted
// and created in separate steps. The store now does it in one atomic step.
func TestCapHoldsUnderConcurrentLogins(t *testing.T) {
	ctx := context.Background()
	backends := map[string]func(t *testing.T) (store.SessionStore, store.UserStore){
		"memory": func(t *testing.T) (store.SessionStore, store.UserStore) {
			m := memory.New()
			return m, m
		},
		"sqlite": func(t *testing.T) (store.SessionStore, store.UserStore) {
			db, err := sqlstore.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "auth.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db, db
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			ss, us := open(t)
			m, err := New(ss, us, Config{MaxPerUser: 2, CacheTTL: -1})
			if err != nil {
				t.Fatal(err)
			}
			for round := range 15 {
				u := &store.User{ID: keys.NewID(), Email: keys.NewID()[:12] + "@example.test", Status: store.StatusActive}
				if err := us.CreateUser(ctx, u); err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				for range 20 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := m.Create(ctx, u, "203.0.113.1", "race"); err != nil {
							t.Errorf("create: %v", err)
						}
					}()
				}
				wg.Wait()
				list, err := m.List(ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				if len(list) != 2 {
					t.Fatalf("round %d: %d sessions alive after 20 concurrent logins with a cap of 2", round, len(list))
				}
			}
		})
	}
}

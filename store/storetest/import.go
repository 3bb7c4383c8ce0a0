package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

// ImportStores is a backend that creates many accounts at once.
type ImportStores interface {
	store.UserImporter
	store.UserStore
}

// TestUserImporter runs the conformance suite of store.UserImporter: a
// batch is stored whole or not at all.
func TestUserImporter(t *testing.T, open func(t *testing.T) ImportStores) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	t.Run("all", func(t *testing.T) {
		s := open(t)
		a, b := user(NewID(), "Import-A@example.com", now), user(NewID(), "import-b@example.com", now)
		b.Phone, b.PhoneVerifiedAt, b.EmailVerifiedAt = "+15550001111", now, now
		must(t, "create users", s.CreateUsers(ctx, []*store.User{a, b}))
		got, err := s.UserByEmail(ctx, "import-a@example.com")
		must(t, "first", err)
		a.Email = "import-a@example.com"
		checkUser(t, got, a)
		got, err = s.UserByPhone(ctx, "+15550001111")
		must(t, "second by phone", err)
		checkUser(t, got, b)
		checkTime(t, "EmailVerifiedAt", got.EmailVerifiedAt, now)
		checkTime(t, "PhoneVerifiedAt", got.PhoneVerifiedAt, now)
	})
	t.Run("none", func(t *testing.T) {
		for name, clash := range map[string]func(existing, next *store.User){
			"stored email": func(e, n *store.User) { n.Email = e.Email },
			"stored phone": func(e, n *store.User) { e.Phone, n.Phone = "+15550002222", "+15550002222" },
		} {
			t.Run(name, func(t *testing.T) {
				s := open(t)
				existing := user(NewID(), NewID()+"@example.com", now)
				fresh := user(NewID(), NewID()+"@example.com", now)
				last := user(NewID(), NewID()+"@example.com", now)
				clash(existing, last)
				must(t, "existing", s.CreateUser(ctx, existing))
				wantErr(t, "batch with a clash", s.CreateUsers(ctx, []*store.User{fresh, last}), store.ErrConflict)
				_, err := s.UserByID(ctx, fresh.ID)
				wantErr(t, "the row before the clash", err, store.ErrNotFound)
			})
		}
		s := open(t)
		a := user(NewID(), "twice@example.com", now)
		b := user(NewID(), "TWICE@example.com", now)
		wantErr(t, "two rows with one email", s.CreateUsers(ctx, []*store.User{a, b}), store.ErrConflict)
		_, err := s.UserByID(ctx, a.ID)
		wantErr(t, "the first of two", err, store.ErrNotFound)
	})
}

package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

// Identities is what TestIdentityStore needs: identities and the users they
// hang off.
type Identities interface {
	store.UserStore
	store.IdentityStore
}

// TestIdentityStore checks the identity links: keyed by (provider,
// subject), one per provider per user, cascading with the user.
func TestIdentityStore(t *testing.T, open func(t *testing.T) Identities) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	setup := func(t *testing.T) Identities {
		s := open(t)
		must(t, "create alice", s.CreateUser(ctx, user("alice", "alice@example.com", now)))
		must(t, "create bob", s.CreateUser(ctx, user("bob", "bob@example.com", now)))
		return s
	}
	ident := func(provider, subject, userID string) *store.Identity {
		return &store.Identity{Provider: provider, Subject: subject, UserID: userID, Email: userID + "@example.com", CreatedAt: now, LastLoginAt: now}
	}

	t.Run("create and find by subject", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		must(t, "create", s.CreateIdentity(ctx, ident("corp", "sub-1", "alice")))
		got, err := s.IdentityBySubject(ctx, "corp", "sub-1")
		must(t, "find", err)
		if got.UserID != "alice" || got.Email != "alice@example.com" || got.Provider != "corp" || got.Subject != "sub-1" {
			t.Errorf("got %+v", got)
		}
		checkTime(t, "CreatedAt", got.CreatedAt, now)
		checkTime(t, "LastLoginAt", got.LastLoginAt, now)
		// The same subject at another provider is another account.
		_, err = s.IdentityBySubject(ctx, "other", "sub-1")
		wantErr(t, "same subject, other provider", err, store.ErrNotFound)
		_, err = s.IdentityBySubject(ctx, "corp", "SUB-1")
		wantErr(t, "subject is case-sensitive", err, store.ErrNotFound)
	})

	t.Run("uniqueness", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		must(t, "create", s.CreateIdentity(ctx, ident("corp", "sub-1", "alice")))
		wantErr(t, "same subject for another user", s.CreateIdentity(ctx, ident("corp", "sub-1", "bob")), store.ErrConflict)
		wantErr(t, "second identity at the same provider", s.CreateIdentity(ctx, ident("corp", "sub-2", "alice")), store.ErrConflict)
		must(t, "same subject at another provider", s.CreateIdentity(ctx, ident("github", "sub-1", "bob")))
		must(t, "another provider for alice", s.CreateIdentity(ctx, ident("github", "sub-9", "alice")))
		wantErr(t, "missing user", s.CreateIdentity(ctx, ident("corp", "sub-3", "nobody")), store.ErrNotFound)
	})

	t.Run("list touch delete", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		must(t, "create", s.CreateIdentity(ctx, ident("zeta", "z", "alice")))
		must(t, "create", s.CreateIdentity(ctx, ident("alpha", "a", "alice")))
		must(t, "create", s.CreateIdentity(ctx, ident("alpha", "b", "bob")))
		l, err := s.UserIdentities(ctx, "alice")
		must(t, "list", err)
		if len(l) != 2 || l[0].Provider != "alpha" || l[1].Provider != "zeta" {
			t.Fatalf("alice's identities = %+v", l)
		}
		later := now.Add(time.Hour)
		must(t, "touch", s.TouchIdentity(ctx, "alpha", "a", "new@example.com", later))
		got, err := s.IdentityBySubject(ctx, "alpha", "a")
		must(t, "find", err)
		if got.Email != "new@example.com" {
			t.Errorf("email after touch = %q", got.Email)
		}
		checkTime(t, "LastLoginAt", got.LastLoginAt, later)
		wantErr(t, "touch missing", s.TouchIdentity(ctx, "alpha", "nope", "", later), store.ErrNotFound)

		wantErr(t, "delete someone else's", s.DeleteIdentity(ctx, "bob", "zeta"), store.ErrNotFound)
		must(t, "delete", s.DeleteIdentity(ctx, "alice", "alpha"))
		wantErr(t, "delete twice", s.DeleteIdentity(ctx, "alice", "alpha"), store.ErrNotFound)
		_, err = s.IdentityBySubject(ctx, "alpha", "a")
		wantErr(t, "deleted", err, store.ErrNotFound)
		if got, err := s.IdentityBySubject(ctx, "alpha", "b"); err != nil || got.UserID != "bob" {
			t.Errorf("bob's identity: %+v %v", got, err)
		}
		// The pair is free again, and alice may link another account.
		must(t, "relink", s.CreateIdentity(ctx, ident("alpha", "c", "alice")))
	})

	t.Run("deleting the user cascades", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		must(t, "create", s.CreateIdentity(ctx, ident("corp", "sub-1", "alice")))
		must(t, "create", s.CreateIdentity(ctx, ident("corp", "sub-2", "bob")))
		must(t, "delete alice", s.DeleteUser(ctx, "alice"))
		_, err := s.IdentityBySubject(ctx, "corp", "sub-1")
		wantErr(t, "deleted user's identity", err, store.ErrNotFound)
		if l, err := s.UserIdentities(ctx, "alice"); err != nil || len(l) != 0 {
			t.Errorf("deleted user's identities = %v, %v", l, err)
		}
		_, err = s.IdentityBySubject(ctx, "corp", "sub-2")
		must(t, "other user's identity", err)
		// The subject can be linked again, to a new account.
		must(t, "create carol", s.CreateUser(ctx, user("carol", "carol@example.com", now)))
		must(t, "relink", s.CreateIdentity(ctx, ident("corp", "sub-1", "carol")))
	})
}

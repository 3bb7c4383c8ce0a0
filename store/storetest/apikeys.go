package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

// APIKeys is what TestAPIKeyStore needs: keys and the users they belong to.
type APIKeys interface {
	store.UserStore
	store.APIKeyStore
}

// TestAPIKeyStore checks API keys: found by id, listed per user, revoked
// only by their owner, touched, and deleted with their user.
func TestAPIKeyStore(t *testing.T, open func(t *testing.T) APIKeys) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	setup := func(t *testing.T) APIKeys {
		s := open(t)
		must(t, "create alice", s.CreateUser(ctx, user("alice", "alice@example.com", now)))
		must(t, "create bob", s.CreateUser(ctx, user("bob", "bob@example.com", now)))
		return s
	}
	key := func(id, userID string, created time.Time) *store.APIKey {
		return &store.APIKey{ID: id, UserID: userID, Name: "ci " + id, Hash: NewID(), CreatedAt: created}
	}

	t.Run("create and find", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		k := key("k1", "alice", now)
		k.ExpiresAt = now.Add(90 * 24 * time.Hour)
		must(t, "create", s.CreateAPIKey(ctx, k))
		got, err := s.APIKey(ctx, "k1")
		must(t, "find", err)
		if got.UserID != "alice" || got.Name != "ci k1" || got.Hash != k.Hash {
			t.Errorf("got %+v, want %+v", got, k)
		}
		checkTime(t, "CreatedAt", got.CreatedAt, now)
		checkTime(t, "ExpiresAt", got.ExpiresAt, k.ExpiresAt)
		if !got.LastUsedAt.IsZero() {
			t.Errorf("LastUsedAt = %v, want zero (never used)", got.LastUsedAt)
		}
		never := key("k2", "alice", now)
		must(t, "create without expiry", s.CreateAPIKey(ctx, never))
		got, err = s.APIKey(ctx, "k2")
		must(t, "find", err)
		if !got.ExpiresAt.IsZero() || got.Expired(now.Add(100*365*24*time.Hour)) {
			t.Errorf("a key without expiry came back with ExpiresAt %v", got.ExpiresAt)
		}
		_, err = s.APIKey(ctx, "K1")
		wantErr(t, "id is case-sensitive", err, store.ErrNotFound)
		wantErr(t, "same id again", s.CreateAPIKey(ctx, key("k1", "bob", now)), store.ErrConflict)
		wantErr(t, "missing user", s.CreateAPIKey(ctx, key("k3", "nobody", now)), store.ErrNotFound)
	})

	t.Run("list revoke touch", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		must(t, "create", s.CreateAPIKey(ctx, key("late", "alice", now.Add(time.Minute))))
		must(t, "create", s.CreateAPIKey(ctx, key("early", "alice", now)))
		must(t, "create", s.CreateAPIKey(ctx, key("bobs", "bob", now)))
		l, err := s.UserAPIKeys(ctx, "alice")
		must(t, "list", err)
		if len(l) != 2 || l[0].ID != "early" || l[1].ID != "late" {
			t.Fatalf("alice's keys = %+v, want early, late", l)
		}
		wantErr(t, "revoke another's key", s.DeleteAPIKey(ctx, "alice", "bobs"), store.ErrNotFound)
		must(t, "bob's key survives", func() error { _, err := s.APIKey(ctx, "bobs"); return err }())
		must(t, "revoke", s.DeleteAPIKey(ctx, "alice", "early"))
		_, err = s.APIKey(ctx, "early")
		wantErr(t, "revoked key", err, store.ErrNotFound)
		wantErr(t, "revoke twice", s.DeleteAPIKey(ctx, "alice", "early"), store.ErrNotFound)

		used := now.Add(2 * time.Hour)
		must(t, "touch", s.TouchAPIKey(ctx, "late", used))
		got, err := s.APIKey(ctx, "late")
		must(t, "find", err)
		checkTime(t, "LastUsedAt", got.LastUsedAt, used)
		wantErr(t, "touch a missing key", s.TouchAPIKey(ctx, "early", used), store.ErrNotFound)
	})

	t.Run("deleted with the user", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		must(t, "create", s.CreateAPIKey(ctx, key("a1", "alice", now)))
		must(t, "create", s.CreateAPIKey(ctx, key("b1", "bob", now)))
		must(t, "delete alice", s.DeleteUser(ctx, "alice"))
		_, err := s.APIKey(ctx, "a1")
		wantErr(t, "deleted user's key", err, store.ErrNotFound)
		if l, err := s.UserAPIKeys(ctx, "alice"); err != nil || len(l) != 0 {
			t.Errorf("deleted user's keys = %v, %v; want none", l, err)
		}
		_, err = s.APIKey(ctx, "b1")
		must(t, "other user's key", err)
	})
}

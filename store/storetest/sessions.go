package storetest

import (
	"context"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

// session builds a live session for user created at c, with a 24h absolute
// lifetime and a 1h idle timeout counted from now.
func session(user string, c time.Time) *store.Session {
	now := time.Now()
	return &store.Session{
		ID:            NewID(),
		UserID:        user,
		CreatedAt:     c,
		LastSeenAt:    c,
		ExpiresAt:     now.Add(24 * time.Hour),
		IdleExpiresAt: now.Add(time.Hour),
		IP:            "203.0.113.7",
		UserAgent:     "Mozilla/5.0 (storetest)",
		AuthMethod:    "password",
		MFAMethod:     "totp",
		Pending:       store.PendingMFA,
	}
}

func checkSession(t *testing.T, got, want *store.Session) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.IP != want.IP || got.UserAgent != want.UserAgent ||
		got.AuthMethod != want.AuthMethod || got.MFAMethod != want.MFAMethod || got.Pending != want.Pending {
		t.Errorf("session = %+v, want %+v", got, want)
	}
	checkTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "LastSeenAt", got.LastSeenAt, want.LastSeenAt)
	checkTime(t, "ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	checkTime(t, "IdleExpiresAt", got.IdleExpiresAt, want.IdleExpiresAt)
}

func sessionIDs(ss []*store.Session) []string {
	ids := make([]string, len(ss))
	for i, s := range ss {
		ids[i] = s.ID
	}
	return ids
}

// TestSessionStore runs the session conformance suite. open returns a fresh
// store and an AddUser for it; the suite does not call Close (open should
// register it with t.Cleanup).
func TestSessionStore(t *testing.T, open func(t *testing.T) (store.SessionStore, AddUser)) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		now := time.Now() // nanoseconds: the store keeps at least milliseconds
		in := &store.Session{
			ID:            NewID(),
			UserID:        "u1",
			CreatedAt:     now.Add(-time.Minute),
			LastSeenAt:    now.Add(-time.Second),
			ExpiresAt:     now.Add(24 * time.Hour),
			IdleExpiresAt: now.Add(time.Hour),
			IP:            "2001:db8::1",
			UserAgent:     "Mozilla/5.0 (X11; Linux) ünïcödé ✓",
		}
		want := *in
		must(t, "create", s.CreateSession(ctx, in))
		in.IP, in.UserAgent = "mutated", "mutated" // the store must have copied
		got, err := s.GetSession(ctx, want.ID)
		must(t, "get", err)
		checkSession(t, got, &want)
		got.UserID = "mutated"
		again, err := s.GetSession(ctx, want.ID)
		must(t, "get again", err)
		checkSession(t, again, &want)

		dup := want
		wantErr(t, "create with taken id", s.CreateSession(ctx, &dup), store.ErrConflict)
	})

	t.Run("GetMissing", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t)
		_, err := s.GetSession(ctx, NewID())
		wantErr(t, "get missing", err, store.ErrNotFound)
	})

	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		now := time.Now()
		abs := session("u1", now.Add(-2*time.Hour))
		abs.ExpiresAt = now.Add(-time.Second)
		idle := session("u1", now.Add(-2*time.Hour))
		idle.IdleExpiresAt = now.Add(-time.Second)
		must(t, "create abs", s.CreateSession(ctx, abs))
		must(t, "create idle", s.CreateSession(ctx, idle))
		_, err := s.GetSession(ctx, abs.ID)
		wantErr(t, "get past absolute deadline", err, store.ErrNotFound)
		_, err = s.GetSession(ctx, idle.ID)
		wantErr(t, "get past idle deadline", err, store.ErrNotFound)
		list, err := s.ListUserSessions(ctx, "u1")
		must(t, "list", err)
		if len(list) != 0 {
			t.Errorf("list = %v, want no expired sessions", sessionIDs(list))
		}
	})

	t.Run("ExpiresWhileStored", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		now := time.Now()
		abs := session("u1", now)
		abs.ExpiresAt = now.Add(shortLife)
		idle := session("u1", now)
		idle.IdleExpiresAt = now.Add(shortLife)
		must(t, "create abs", s.CreateSession(ctx, abs))
		must(t, "create idle", s.CreateSession(ctx, idle))
		for _, id := range []string{abs.ID, idle.ID} {
			_, err := s.GetSession(ctx, id)
			must(t, "get before deadline", err)
		}
		sleepUntil(now.Add(shortLife))
		_, err := s.GetSession(ctx, abs.ID)
		wantErr(t, "get after absolute deadline", err, store.ErrNotFound)
		_, err = s.GetSession(ctx, idle.ID)
		wantErr(t, "get after idle deadline", err, store.ErrNotFound)
		wantErr(t, "touch after deadline", s.TouchSession(ctx, idle.ID, time.Now(), time.Now().Add(time.Hour)), store.ErrNotFound)
	})

	t.Run("Touch", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		in := session("u1", time.Now().Add(-time.Minute))
		must(t, "create", s.CreateSession(ctx, in))
		seen := time.Now()
		idle := seen.Add(2 * time.Hour)
		must(t, "touch", s.TouchSession(ctx, in.ID, seen, idle))
		got, err := s.GetSession(ctx, in.ID)
		must(t, "get", err)
		want := *in
		want.LastSeenAt, want.IdleExpiresAt = seen, idle
		checkSession(t, got, &want)
	})

	t.Run("TouchKeepsAlive", func(t *testing.T) {
		// The idle deadline must move in the backend too (Redis key expiry),
		// not only in the returned record.
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		now := time.Now()
		in := session("u1", now)
		in.IdleExpiresAt = now.Add(shortLife)
		must(t, "create", s.CreateSession(ctx, in))
		must(t, "touch", s.TouchSession(ctx, in.ID, now, now.Add(time.Hour)))
		sleepUntil(in.IdleExpiresAt)
		_, err := s.GetSession(ctx, in.ID)
		must(t, "get after the old idle deadline", err)
	})

	t.Run("TouchRevivesNothing", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		now := time.Now()
		idle := session("u1", now.Add(-2*time.Hour))
		idle.IdleExpiresAt = now.Add(-time.Second)
		abs := session("u1", now.Add(-2*time.Hour))
		abs.ExpiresAt = now.Add(-time.Second)
		for _, in := range []*store.Session{idle, abs} {
			must(t, "create", s.CreateSession(ctx, in))
			wantErr(t, "touch expired", s.TouchSession(ctx, in.ID, now, now.Add(time.Hour)), store.ErrNotFound)
			_, err := s.GetSession(ctx, in.ID)
			wantErr(t, "get after touching expired", err, store.ErrNotFound)
		}
		wantErr(t, "touch missing", s.TouchSession(ctx, NewID(), now, now.Add(time.Hour)), store.ErrNotFound)
	})

	t.Run("DeleteIdempotent", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		in := session("u1", time.Now())
		must(t, "create", s.CreateSession(ctx, in))
		must(t, "delete", s.DeleteSession(ctx, in.ID))
		_, err := s.GetSession(ctx, in.ID)
		wantErr(t, "get deleted", err, store.ErrNotFound)
		must(t, "delete again", s.DeleteSession(ctx, in.ID))
		must(t, "delete never existed", s.DeleteSession(ctx, NewID()))
		list, err := s.ListUserSessions(ctx, "u1")
		must(t, "list", err)
		if len(list) != 0 {
			t.Errorf("list after delete = %v, want empty", sessionIDs(list))
		}
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "a")
		addUser(t, "b")
		base := time.Now().Add(-time.Hour)
		s1 := session("a", base.Add(1*time.Second))
		s2 := session("a", base.Add(2*time.Second))
		s3 := session("a", base.Add(3*time.Second))
		dead := session("a", base)
		dead.IdleExpiresAt = time.Now().Add(-time.Second)
		other := session("b", base)
		for _, in := range []*store.Session{s2, dead, s3, other, s1} { // not in order
			must(t, "create", s.CreateSession(ctx, in))
		}
		list, err := s.ListUserSessions(ctx, "a")
		must(t, "list a", err)
		if got, want := sessionIDs(list), sessionIDs([]*store.Session{s1, s2, s3}); !slices.Equal(got, want) {
			t.Fatalf("list a = %v, want %v (oldest first, live only)", got, want)
		}
		checkSession(t, list[1], s2)
		list, err = s.ListUserSessions(ctx, "b")
		must(t, "list b", err)
		if got := sessionIDs(list); !slices.Equal(got, []string{other.ID}) {
			t.Errorf("list b = %v, want [%s]", got, other.ID)
		}
		list, err = s.ListUserSessions(ctx, "nobody")
		must(t, "list nobody", err)
		if len(list) != 0 {
			t.Errorf("list nobody = %v, want empty", sessionIDs(list))
		}
	})

	t.Run("DeleteUserSessions", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "a")
		addUser(t, "b")
		now := time.Now()
		var want []string
		for i := range 3 {
			in := session("a", now.Add(time.Duration(i)*time.Millisecond))
			must(t, "create", s.CreateSession(ctx, in))
			want = append(want, in.ID)
		}
		other := session("b", now)
		must(t, "create other", s.CreateSession(ctx, other))

		ids, err := s.DeleteUserSessions(ctx, "a")
		must(t, "delete user sessions", err)
		sort.Strings(ids)
		sort.Strings(want)
		if !slices.Equal(ids, want) {
			t.Errorf("deleted ids = %v, want %v", ids, want)
		}
		for _, id := range want {
			_, err := s.GetSession(ctx, id)
			wantErr(t, "get revoked", err, store.ErrNotFound)
		}
		list, err := s.ListUserSessions(ctx, "a")
		must(t, "list a", err)
		if len(list) != 0 {
			t.Errorf("list a = %v, want empty", sessionIDs(list))
		}
		_, err = s.GetSession(ctx, other.ID)
		must(t, "other user's session survives", err)

		ids, err = s.DeleteUserSessions(ctx, "a")
		must(t, "delete again", err)
		if len(ids) != 0 {
			t.Errorf("second delete returned %v, want none", ids)
		}
		// The per-user index must still work after a revoke-all.
		again := session("a", time.Now())
		must(t, "create after revoke", s.CreateSession(ctx, again))
		list, err = s.ListUserSessions(ctx, "a")
		must(t, "list after revoke", err)
		if got := sessionIDs(list); !slices.Equal(got, []string{again.ID}) {
			t.Errorf("list after revoke = %v, want [%s]", got, again.ID)
		}
	})

	t.Run("PurgeExpired", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		now := time.Now()
		live := session("u1", now)
		abs := session("u1", now.Add(-2*time.Hour))
		abs.ExpiresAt = now.Add(-time.Second)
		idle := session("u1", now.Add(-2*time.Hour))
		idle.IdleExpiresAt = now.Add(-time.Second)
		for _, in := range []*store.Session{live, abs, idle} {
			must(t, "create", s.CreateSession(ctx, in))
		}
		n, err := s.PurgeExpired(ctx, time.Now())
		must(t, "purge", err)
		if n != 2 && n != 0 { // 0: the backend expires natively
			t.Errorf("purged %d, want 2 (or 0 for native expiry)", n)
		}
		_, err = s.GetSession(ctx, live.ID)
		must(t, "live session survives purge", err)
		n, err = s.PurgeExpired(ctx, time.Now())
		must(t, "purge again", err)
		if n != 0 {
			t.Errorf("second purge removed %d, want 0", n)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		const workers, each = 8, 10
		base := time.Now().Add(-time.Minute)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			kept []*store.Session
		)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					in := session("u1", base.Add(time.Duration(w*each+i)*time.Millisecond))
					if err := s.CreateSession(ctx, in); err != nil {
						t.Errorf("create: %v", err)
						return
					}
					if _, err := s.GetSession(ctx, in.ID); err != nil {
						t.Errorf("get: %v", err)
					}
					if _, err := s.ListUserSessions(ctx, "u1"); err != nil {
						t.Errorf("list: %v", err)
					}
					if i%2 == 1 {
						if err := s.DeleteSession(ctx, in.ID); err != nil {
							t.Errorf("delete: %v", err)
						}
						continue
					}
					if err := s.TouchSession(ctx, in.ID, time.Now(), time.Now().Add(time.Hour)); err != nil {
						t.Errorf("touch: %v", err)
					}
					mu.Lock()
					kept = append(kept, in)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		sort.Slice(kept, func(i, j int) bool { return kept[i].CreatedAt.Before(kept[j].CreatedAt) })
		list, err := s.ListUserSessions(ctx, "u1")
		must(t, "list", err)
		if got, want := sessionIDs(list), sessionIDs(kept); !slices.Equal(got, want) {
			t.Errorf("after concurrent create/delete: %d sessions listed, want %d in creation order", len(got), len(want))
		}
	})

	testSessionCap(t, open)
	testRefreshGen(t, open)
}

// ----- users -----

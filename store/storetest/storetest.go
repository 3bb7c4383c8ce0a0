// Package storetest is the conformance suite every store backend runs, so
// the flows can rely on one behaviour whatever the operator configured.
//
// A backend's test calls TestUserStore, TestSessionStore and TestTokenStore
// with an open function that returns a fresh, empty store for each subtest
// (subtests run in parallel). Times are compared at millisecond precision,
// the finest every backend keeps.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

// AddUser makes userID exist for backends whose sessions and tokens
// reference a user row (SQL foreign keys); others pass a no-op.
type AddUser func(t *testing.T, userID string)

// NewID returns a random 64-hex-digit id, the shape of a session id (SHA-256
// of the cookie token).
func NewID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func sameMs(a, b time.Time) bool { return a.UnixMilli() == b.UnixMilli() }

func checkTime(t *testing.T, field string, got, want time.Time) {
	t.Helper()
	if !sameMs(got, want) {
		t.Errorf("%s = %v, want %v (millisecond precision)", field, got, want)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// shortLife is the lifetime of sessions the suite waits out: long enough
// that a slow backend under -race still sees them alive at first.
const shortLife = 500 * time.Millisecond

// sleepUntil waits until wall time is past at, with a margin so a backend's
// own clock (Redis expiry) has certainly passed it too.
func sleepUntil(at time.Time) {
	time.Sleep(time.Until(at) + 50*time.Millisecond)
}

// ----- sessions -----

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

func user(id, email string, created time.Time) *store.User {
	return &store.User{
		ID:           id,
		Email:        email,
		Name:         "User " + id,
		Groups:       []string{"staff"},
		Status:       store.StatusActive,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		CreatedAt:    created,
		UpdatedAt:    created,
	}
}

func checkUser(t *testing.T, got, want *store.User) {
	t.Helper()
	if got.ID != want.ID || got.Email != want.Email || got.Phone != want.Phone || got.Name != want.Name ||
		got.Status != want.Status || got.PasswordHash != want.PasswordHash || !slices.Equal(got.Groups, want.Groups) {
		t.Errorf("user = %+v, want %+v", got, want)
	}
	checkTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
}

func userIDs(us []*store.User) []string {
	ids := make([]string, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	return ids
}

// TestUserStore runs the user conformance suite; open returns a fresh, empty
// store.
func TestUserStore(t *testing.T, open func(t *testing.T) store.UserStore) {
	ctx := context.Background()

	t.Run("CreateGet", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		now := time.Now()
		in := user("u1", "Alice@Example.COM", now)
		in.Phone = "+15551234567"
		in.Name = "Alice Ünïcödé"
		in.Groups = []string{"admins", "finance"}
		in.UpdatedAt = now.Add(time.Second)
		must(t, "create", s.CreateUser(ctx, in))
		want := *in
		want.Groups = slices.Clone(in.Groups)
		want.Email = "alice@example.com"
		in.Groups[0] = "mutated" // the store must have copied

		got, err := s.UserByID(ctx, "u1")
		must(t, "by id", err)
		checkUser(t, got, &want)
		got.Groups[0] = "mutated"
		got, err = s.UserByEmail(ctx, "ALICE@example.com")
		must(t, "by email, other case", err)
		checkUser(t, got, &want)
		got, err = s.UserByPhone(ctx, "+15551234567")
		must(t, "by phone", err)
		checkUser(t, got, &want)
		if !got.Active() {
			t.Error("Active() = false for an active user")
		}
	})

	t.Run("SetPasswordHash", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		u := user("pw", "pw@example.com", time.Now().Add(-time.Hour))
		u.Groups = []string{"staff"}
		must(t, "create", s.CreateUser(ctx, u))
		// A disable written after the hash was computed must survive.
		dis := *u
		dis.Status = store.StatusDisabled
		dis.Groups = []string{"ops"}
		must(t, "disable", s.UpdateUser(ctx, &dis))
		at := time.Now().Truncate(time.Millisecond)
		must(t, "set hash", s.SetPasswordHash(ctx, "pw", "$argon2id$changed", at))
		got, err := s.UserByID(ctx, "pw")
		must(t, "get", err)
		if got.PasswordHash != "$argon2id$changed" || got.Status != store.StatusDisabled || !slices.Equal(got.Groups, []string{"ops"}) || !got.UpdatedAt.Equal(at) {
			t.Fatalf("after SetPasswordHash: %+v", got)
		}
		wantErr(t, "missing user", s.SetPasswordHash(ctx, "nobody", "$argon2id$x", at), store.ErrNotFound)
	})

	t.Run("ChangePassword", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		u := user("cp", "cp@example.com", time.Now().Add(-time.Hour))
		must(t, "create", s.CreateUser(ctx, u))
		got, err := s.UserByID(ctx, "cp")
		must(t, "get", err)
		if !got.PasswordChangedAt.IsZero() {
			t.Fatalf("a new user's PasswordChangedAt = %v, want zero (never)", got.PasswordChangedAt)
		}
		dis := *u
		dis.Status = store.StatusDisabled
		must(t, "disable", s.UpdateUser(ctx, &dis))
		at := time.Now().Truncate(time.Millisecond)
		must(t, "change", s.ChangePassword(ctx, "cp", "$argon2id$changed", at))
		got, err = s.UserByID(ctx, "cp")
		must(t, "get", err)
		if got.PasswordHash != "$argon2id$changed" || !got.PasswordChangedAt.Equal(at) || !got.UpdatedAt.Equal(at) || got.Status != store.StatusDisabled {
			t.Fatalf("after ChangePassword: %+v", got)
		}
		// A rehash (SetPasswordHash) and a profile write keep it.
		later := at.Add(time.Minute)
		must(t, "rehash", s.SetPasswordHash(ctx, "cp", "$argon2id$rehashed", later))
		got.Name = "renamed"
		must(t, "update", s.UpdateUser(ctx, got))
		got, err = s.UserByEmail(ctx, "cp@example.com")
		must(t, "get", err)
		if !got.PasswordChangedAt.Equal(at) {
			t.Fatalf("PasswordChangedAt after a rehash and an update = %v, want %v", got.PasswordChangedAt, at)
		}
		// Created with one (an import), it is kept.
		v := user("cp2", "cp2@example.com", time.Now())
		v.PasswordChangedAt = at
		must(t, "create with", s.CreateUser(ctx, v))
		got, err = s.UserByID(ctx, "cp2")
		must(t, "get", err)
		if !got.PasswordChangedAt.Equal(at) {
			t.Fatalf("created PasswordChangedAt = %v, want %v", got.PasswordChangedAt, at)
		}
		wantErr(t, "missing user", s.ChangePassword(ctx, "nobody", "$argon2id$x", at), store.ErrNotFound)
	})

	t.Run("MustChangePassword", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		u := user("mc", "mc@example.com", time.Now())
		u.MustChangePassword = true
		must(t, "create", s.CreateUser(ctx, u))
		got, err := s.UserByID(ctx, "mc")
		must(t, "get", err)
		if !got.MustChangePassword {
			t.Fatal("created with the flag, read without it")
		}
		// A rehash keeps it; a change clears it.
		must(t, "rehash", s.SetPasswordHash(ctx, "mc", "$argon2id$rehash", time.Now()))
		got, _ = s.UserByID(ctx, "mc")
		if !got.MustChangePassword {
			t.Fatal("a rehash cleared the flag")
		}
		must(t, "change", s.ChangePassword(ctx, "mc", "$argon2id$changed", time.Now()))
		got, _ = s.UserByEmail(ctx, "mc@example.com")
		if got.MustChangePassword {
			t.Fatal("a password change kept the flag")
		}
		must(t, "set", s.SetMustChangePassword(ctx, "mc", true))
		got, _ = s.UserByID(ctx, "mc")
		if !got.MustChangePassword || got.PasswordHash != "$argon2id$changed" {
			t.Fatalf("after SetMustChangePassword: %+v", got)
		}
		got.MustChangePassword = false
		must(t, "update", s.UpdateUser(ctx, got))
		got, _ = s.UserByID(ctx, "mc")
		if got.MustChangePassword {
			t.Fatal("UpdateUser did not write the flag")
		}
		if !got.EmailVerifiedAt.IsZero() {
			t.Fatalf("a new user's email is verified at %v", got.EmailVerifiedAt)
		}
		at := time.Now().Add(-time.Minute)
		got.EmailVerifiedAt = at
		must(t, "update", s.UpdateUser(ctx, got))
		got, _ = s.UserByID(ctx, "mc")
		checkTime(t, "EmailVerifiedAt", got.EmailVerifiedAt, at)
		wantErr(t, "missing user", s.SetMustChangePassword(ctx, "nobody", true), store.ErrNotFound)
	})

	t.Run("CreateFirstUser", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		// Racers for the first account: exactly one wins, the rest get
		// ErrConflict, and no second account appears.
		const racers = 8
		errs := make(chan error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- s.CreateFirstUser(ctx, user(fmt.Sprintf("first%d", i), fmt.Sprintf("first%d@example.com", i), time.Now()))
			}()
		}
		wg.Wait()
		close(errs)
		won := 0
		for err := range errs {
			if err == nil {
				won++
				continue
			}
			wantErr(t, "losing racer", err, store.ErrConflict)
		}
		if n, err := s.CountUsers(ctx); won != 1 || err != nil || n != 1 {
			t.Fatalf("%d winners, %d users (%v); want exactly one", won, n, err)
		}
		wantErr(t, "after the first", s.CreateFirstUser(ctx, user("late", "late@example.com", time.Now())), store.ErrConflict)
		must(t, "ordinary create still works", s.CreateUser(ctx, user("second", "second@example.com", time.Now())))
	})

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		_, err := s.UserByID(ctx, "nobody")
		wantErr(t, "by id", err, store.ErrNotFound)
		_, err = s.UserByEmail(ctx, "nobody@example.com")
		wantErr(t, "by email", err, store.ErrNotFound)
		_, err = s.UserByPhone(ctx, "+15559999999")
		wantErr(t, "by phone", err, store.ErrNotFound)
		wantErr(t, "update", s.UpdateUser(ctx, user("nobody", "nobody@example.com", time.Now())), store.ErrNotFound)
		wantErr(t, "delete", s.DeleteUser(ctx, "nobody"), store.ErrNotFound)
	})

	t.Run("Conflicts", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		now := time.Now()
		bob := user("bob", "bob@example.com", now)
		bob.Phone = "+15550000001"
		must(t, "create", s.CreateUser(ctx, bob))
		wantErr(t, "same email, other case", s.CreateUser(ctx, user("bob2", "BOB@Example.com", now)), store.ErrConflict)
		wantErr(t, "same id", s.CreateUser(ctx, user("bob", "bob3@example.com", now)), store.ErrConflict)
		p := user("carol", "carol@example.com", now)
		p.Phone = bob.Phone
		wantErr(t, "same phone", s.CreateUser(ctx, p), store.ErrConflict)
		// Two accounts without a phone must not collide on "".
		must(t, "no phone 1", s.CreateUser(ctx, user("d1", "d1@example.com", now)))
		must(t, "no phone 2", s.CreateUser(ctx, user("d2", "d2@example.com", now)))
		got, err := s.UserByID(ctx, "d2")
		must(t, "get d2", err)
		if got.Phone != "" {
			t.Errorf("phone = %q, want empty", got.Phone)
		}
		// "" is no phone: it must never find an account without one.
		_, err = s.UserByPhone(ctx, "")
		wantErr(t, "by empty phone", err, store.ErrNotFound)
		if n, err := s.CountUsers(ctx); err != nil || n != 3 {
			t.Errorf("count = %d, %v; want 3 (failed creates must leave nothing)", n, err)
		}
	})

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		created := time.Now().Add(-time.Hour)
		u := user("u1", "old@example.com", created)
		u.Phone = "+15550000001"
		must(t, "create", s.CreateUser(ctx, u))
		must(t, "create other", s.CreateUser(ctx, func() *store.User {
			o := user("u2", "other@example.com", created)
			o.Phone = "+15550000002"
			return o
		}()))

		upd := *u
		upd.Email = "New@Example.com"
		upd.Phone = "+15550000009"
		upd.Name = "Renamed"
		upd.Groups = []string{"finance"}
		upd.Status = store.StatusDisabled
		upd.PasswordHash = "$argon2id$new"
		upd.UpdatedAt = time.Now()
		must(t, "update", s.UpdateUser(ctx, &upd))
		want := upd
		want.Email = "new@example.com"
		want.CreatedAt = created
		got, err := s.UserByEmail(ctx, "new@example.com")
		must(t, "by new email", err)
		checkUser(t, got, &want)
		if got.Active() {
			t.Error("Active() = true for a disabled user")
		}
		_, err = s.UserByEmail(ctx, "old@example.com")
		wantErr(t, "by old email", err, store.ErrNotFound)
		got, err = s.UserByPhone(ctx, "+15550000009")
		must(t, "by new phone", err)
		checkUser(t, got, &want)
		_, err = s.UserByPhone(ctx, "+15550000001")
		wantErr(t, "by old phone", err, store.ErrNotFound)

		clash := want
		clash.Email = "OTHER@example.com"
		wantErr(t, "update to a taken email", s.UpdateUser(ctx, &clash), store.ErrConflict)
		clash = want
		clash.Phone = "+15550000002"
		wantErr(t, "update to a taken phone", s.UpdateUser(ctx, &clash), store.ErrConflict)
		got, err = s.UserByID(ctx, "u1")
		must(t, "get after failed updates", err)
		checkUser(t, got, &want)

		// Clearing the phone frees it, and "" must not collide.
		noPhone := want
		noPhone.Phone = ""
		must(t, "clear phone", s.UpdateUser(ctx, &noPhone))
		o, err := s.UserByID(ctx, "u2")
		must(t, "get other", err)
		o.Phone = ""
		must(t, "clear other phone", s.UpdateUser(ctx, o))
		reuse := user("u3", "u3@example.com", created)
		reuse.Phone = "+15550000009"
		must(t, "reuse freed phone", s.CreateUser(ctx, reuse))
	})

	t.Run("ListCount", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		if n, err := s.CountUsers(ctx); err != nil || n != 0 {
			t.Fatalf("count empty = %d, %v", n, err)
		}
		if l, err := s.ListUsers(ctx); err != nil || len(l) != 0 {
			t.Fatalf("list empty = %d, %v", len(l), err)
		}
		base := time.Now().Add(-time.Hour)
		for _, u := range []*store.User{
			user("b", "b@example.com", base.Add(2*time.Second)),
			user("a", "a@example.com", base.Add(1*time.Second)),
			user("c", "c@example.com", base.Add(3*time.Second)),
		} {
			must(t, "create", s.CreateUser(ctx, u))
		}
		n, err := s.CountUsers(ctx)
		must(t, "count", err)
		if n != 3 {
			t.Errorf("count = %d, want 3", n)
		}
		l, err := s.ListUsers(ctx)
		must(t, "list", err)
		if got := userIDs(l); !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Errorf("list = %v, want [a b c] (oldest first)", got)
		}
		checkUser(t, l[0], user("a", "a@example.com", base.Add(1*time.Second)))
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		u := user("u1", "gone@example.com", time.Now())
		u.Phone = "+15550000001"
		must(t, "create", s.CreateUser(ctx, u))
		must(t, "create other", s.CreateUser(ctx, user("u2", "stays@example.com", time.Now())))
		must(t, "delete", s.DeleteUser(ctx, "u1"))
		_, err := s.UserByID(ctx, "u1")
		wantErr(t, "by id", err, store.ErrNotFound)
		_, err = s.UserByEmail(ctx, "gone@example.com")
		wantErr(t, "by email", err, store.ErrNotFound)
		wantErr(t, "delete again", s.DeleteUser(ctx, "u1"), store.ErrNotFound)
		if n, err := s.CountUsers(ctx); err != nil || n != 1 {
			t.Errorf("count = %d, %v; want 1", n, err)
		}
		_, err = s.UserByID(ctx, "u2")
		must(t, "other user survives", err)
		// Email and phone are free again.
		must(t, "recreate", s.CreateUser(ctx, u))
	})
}

// ----- one-time tokens -----

func token(user string, exp time.Time) *store.OneTimeToken {
	return &store.OneTimeToken{Hash: NewID(), Purpose: "setup", UserID: user, ExpiresAt: exp}
}

func checkToken(t *testing.T, got, want *store.OneTimeToken) {
	t.Helper()
	if got.Hash != want.Hash || got.Purpose != want.Purpose || got.UserID != want.UserID {
		t.Errorf("token = %+v, want %+v", got, want)
	}
	checkTime(t, "ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

// TestTokenStore runs the one-time token conformance suite.
func TestTokenStore(t *testing.T, open func(t *testing.T) (store.TokenStore, AddUser)) {
	ctx := context.Background()

	t.Run("ConsumeOnce", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		now := time.Now()
		in := token("u1", now.Add(10*time.Minute))
		want := *in
		must(t, "create", s.CreateToken(ctx, in))
		in.Purpose = "mutated"
		for range 2 {
			got, err := s.PeekToken(ctx, want.Hash, "setup", now)
			must(t, "peek (does not consume)", err)
			checkToken(t, got, &want)
		}
		got, err := s.ConsumeToken(ctx, want.Hash, "setup", now)
		must(t, "consume", err)
		checkToken(t, got, &want)
		_, err = s.ConsumeToken(ctx, want.Hash, "setup", now)
		wantErr(t, "second consume", err, store.ErrNotFound)
		_, err = s.PeekToken(ctx, want.Hash, "setup", now)
		wantErr(t, "peek consumed", err, store.ErrNotFound)
		_, err = s.ConsumeToken(ctx, NewID(), "setup", now)
		wantErr(t, "consume missing", err, store.ErrNotFound)
	})

	t.Run("NoUser", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t)
		in := token("", time.Now().Add(time.Minute))
		must(t, "create", s.CreateToken(ctx, in))
		got, err := s.ConsumeToken(ctx, in.Hash, "setup", time.Now())
		must(t, "consume", err)
		checkToken(t, got, in)
	})

	t.Run("Conflict", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t)
		in := token("", time.Now().Add(time.Minute))
		must(t, "create", s.CreateToken(ctx, in))
		dup := *in
		dup.Purpose = "reset"
		wantErr(t, "same hash", s.CreateToken(ctx, &dup), store.ErrConflict)
	})

	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		now := time.Now()
		in := token("u1", now.Add(time.Minute))
		must(t, "create", s.CreateToken(ctx, in))
		for _, at := range []time.Time{in.ExpiresAt, in.ExpiresAt.Add(time.Minute)} {
			_, err := s.PeekToken(ctx, in.Hash, "setup", at)
			wantErr(t, "peek at/after expiry", err, store.ErrNotFound)
			_, err = s.ConsumeToken(ctx, in.Hash, "setup", at)
			wantErr(t, "consume at/after expiry", err, store.ErrNotFound)
		}
		// Failed attempts must not have consumed it.
		_, err := s.ConsumeToken(ctx, in.Hash, "setup", now)
		must(t, "consume in time", err)

		old := token("u1", now.Add(-time.Second))
		must(t, "create already expired", s.CreateToken(ctx, old))
		_, err = s.ConsumeToken(ctx, old.Hash, "setup", time.Now())
		wantErr(t, "consume already expired", err, store.ErrNotFound)
	})

	t.Run("WrongPurpose", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		now := time.Now()
		in := token("u1", now.Add(time.Minute))
		must(t, "create", s.CreateToken(ctx, in))
		_, err := s.PeekToken(ctx, in.Hash, "reset", now)
		wantErr(t, "peek wrong purpose", err, store.ErrNotFound)
		_, err = s.ConsumeToken(ctx, in.Hash, "reset", now)
		wantErr(t, "consume wrong purpose", err, store.ErrNotFound)
		_, err = s.ConsumeToken(ctx, in.Hash, "setup", now)
		must(t, "consume right purpose after a wrong one", err)
	})

	t.Run("ConcurrentConsume", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		for round := range 5 {
			in := token("u1", time.Now().Add(time.Minute))
			must(t, "create", s.CreateToken(ctx, in))
			const racers = 16
			var (
				wg    sync.WaitGroup
				start = make(chan struct{})
				wins  = make(chan struct{}, racers)
			)
			for range racers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, err := s.ConsumeToken(ctx, in.Hash, "setup", time.Now())
					switch {
					case err == nil:
						wins <- struct{}{}
					case !errors.Is(err, store.ErrNotFound):
						t.Errorf("consume: %v", err)
					}
				}()
			}
			close(start)
			wg.Wait()
			if n := len(wins); n != 1 {
				t.Errorf("round %d: %d consumers won, want exactly 1", round, n)
			}
		}
	})
}

// TestDeleteUserCascades checks that DeleteUser takes the user's sessions and
// one-time tokens with it, for a backend that keeps all three (a deleted
// account must not stay logged in). The stores must be fresh and empty.
func TestDeleteUserCascades(t *testing.T, users store.UserStore, sessions store.SessionStore, tokens store.TokenStore) {
	ctx := context.Background()
	now := time.Now()
	must(t, "create gone", users.CreateUser(ctx, user("gone", "gone@example.com", now)))
	must(t, "create stays", users.CreateUser(ctx, user("stays", "stays@example.com", now)))
	goneSess, staysSess := session("gone", now), session("stays", now)
	must(t, "create session", sessions.CreateSession(ctx, goneSess))
	must(t, "create session", sessions.CreateSession(ctx, staysSess))
	goneTok, staysTok := token("gone", now.Add(time.Hour)), token("stays", now.Add(time.Hour))
	must(t, "create token", tokens.CreateToken(ctx, goneTok))
	must(t, "create token", tokens.CreateToken(ctx, staysTok))

	must(t, "delete user", users.DeleteUser(ctx, "gone"))

	_, err := sessions.GetSession(ctx, goneSess.ID)
	wantErr(t, "deleted user's session", err, store.ErrNotFound)
	if l, err := sessions.ListUserSessions(ctx, "gone"); err != nil || len(l) != 0 {
		t.Errorf("deleted user's sessions = %v, %v; want none", sessionIDs(l), err)
	}
	_, err = tokens.PeekToken(ctx, goneTok.Hash, goneTok.Purpose, now)
	wantErr(t, "deleted user's token", err, store.ErrNotFound)
	_, err = sessions.GetSession(ctx, staysSess.ID)
	must(t, "other user's session", err)
	_, err = tokens.PeekToken(ctx, staysTok.Hash, staysTok.Purpose, now)
	must(t, "other user's token", err)
}

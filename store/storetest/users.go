package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

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
		if !got.PhoneVerifiedAt.IsZero() {
			t.Fatalf("a new user's phone is verified at %v", got.PhoneVerifiedAt)
		}
		got.PhoneVerifiedAt = at
		must(t, "update", s.UpdateUser(ctx, got))
		got, _ = s.UserByID(ctx, "mc")
		checkTime(t, "PhoneVerifiedAt", got.PhoneVerifiedAt, at)
		checkTime(t, "EmailVerifiedAt", got.EmailVerifiedAt, at)
		pv := &store.User{ID: "pv", Email: "pv@example.com", Phone: "+15550001717", Status: store.StatusActive, PasswordHash: "$argon2id$x", PhoneVerifiedAt: at}
		must(t, "create", s.CreateUser(ctx, pv))
		got, _ = s.UserByID(ctx, "pv")
		checkTime(t, "PhoneVerifiedAt on create", got.PhoneVerifiedAt, at)
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

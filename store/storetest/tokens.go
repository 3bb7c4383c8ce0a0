package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

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

package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

// testRefreshGen: AdvanceRefresh moves the generation on exactly once per
// value, refuses a used one with ErrConflict and a gone session with
// ErrNotFound, and of many concurrent refreshes with one token exactly one
// wins (bearer mode's reuse detection rests on it).
func testRefreshGen(t *testing.T, open func(t *testing.T) (store.SessionStore, AddUser)) {
	ctx := context.Background()

	t.Run("RefreshGenAdvancesOnce", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		in := full("u1", time.Now())
		must(t, "create", s.CreateSession(ctx, in))
		got, err := s.GetSession(ctx, in.ID)
		must(t, "get", err)
		if got.RefreshGen != 0 {
			t.Fatalf("new session RefreshGen = %d, want 0", got.RefreshGen)
		}
		must(t, "advance 0", s.AdvanceRefresh(ctx, in.ID, 0))
		wantErr(t, "advance 0 again (reuse)", s.AdvanceRefresh(ctx, in.ID, 0), store.ErrConflict)
		wantErr(t, "advance a future generation", s.AdvanceRefresh(ctx, in.ID, 5), store.ErrConflict)
		must(t, "advance 1", s.AdvanceRefresh(ctx, in.ID, 1))
		got, err = s.GetSession(ctx, in.ID)
		must(t, "get", err)
		if got.RefreshGen != 2 {
			t.Fatalf("RefreshGen = %d, want 2", got.RefreshGen)
		}
		list, err := s.ListUserSessions(ctx, "u1")
		must(t, "list", err)
		if len(list) != 1 || list[0].RefreshGen != 2 {
			t.Fatalf("listed sessions = %+v, want one at generation 2", list)
		}
	})

	t.Run("RefreshGenKeptAtCreate", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		in := full("u1", time.Now())
		in.RefreshGen = 7
		must(t, "create", s.CreateSession(ctx, in))
		wantErr(t, "advance 0", s.AdvanceRefresh(ctx, in.ID, 0), store.ErrConflict)
		must(t, "advance 7", s.AdvanceRefresh(ctx, in.ID, 7))
	})

	t.Run("RefreshGenGoneSession", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		wantErr(t, "advance a missing session", s.AdvanceRefresh(ctx, NewID(), 0), store.ErrNotFound)
		in := full("u1", time.Now())
		must(t, "create", s.CreateSession(ctx, in))
		must(t, "delete", s.DeleteSession(ctx, in.ID))
		wantErr(t, "advance a deleted session", s.AdvanceRefresh(ctx, in.ID, 0), store.ErrNotFound)
		short := full("u1", time.Now())
		short.ExpiresAt = time.Now().Add(shortLife)
		must(t, "create short", s.CreateSession(ctx, short))
		sleepUntil(short.ExpiresAt)
		wantErr(t, "advance an expired session", s.AdvanceRefresh(ctx, short.ID, 0), store.ErrNotFound)
	})

	t.Run("RefreshGenConcurrentOneWins", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		in := full("u1", time.Now())
		must(t, "create", s.CreateSession(ctx, in))
		const n = 16
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			won, lost int
		)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.AdvanceRefresh(ctx, in.ID, 0)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, store.ErrConflict):
					lost++
				default:
					t.Errorf("advance: %v", err)
				}
			}()
		}
		wg.Wait()
		if won != 1 || lost != n-1 {
			t.Fatalf("%d concurrent refreshes with one generation: %d won, %d refused; want 1 and %d", n, won, lost, n-1)
		}
	})
}

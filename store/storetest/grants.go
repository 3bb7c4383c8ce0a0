package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

func grant(user, purpose, code string, exp time.Time) *store.OneTimeToken {
	return &store.OneTimeToken{Hash: NewID(), Purpose: purpose, UserID: user, ExpiresAt: exp, CodeHash: code, Data: "new@example.com"}
}

// TestGrantStore runs the grant conformance suite (store.GrantStore).
func TestGrantStore(t *testing.T, open func(t *testing.T) (store.GrantStore, AddUser)) {
	ctx := context.Background()

	t.Run("IssueReplacesAndKeepsFields", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		addUser(t, "u2")
		now := time.Now()
		first := grant("u1", "reset", "c1", now.Add(time.Hour))
		other := grant("u1", "invite", "c1", now.Add(time.Hour))
		otherUser := grant("u2", "reset", "c1", now.Add(time.Hour))
		for _, g := range []*store.OneTimeToken{first, other, otherUser} {
			must(t, "issue", s.IssueToken(ctx, g))
		}
		second := grant("u1", "reset", "c2", now.Add(time.Hour))
		must(t, "issue again", s.IssueToken(ctx, second))
		_, err := s.PeekToken(ctx, first.Hash, "reset", now)
		wantErr(t, "replaced link", err, store.ErrNotFound)
		_, err = s.TryCode(ctx, "u1", "reset", []string{"c1"}, 5, now)
		wantErr(t, "replaced code", err, store.ErrNotFound)
		got, err := s.PeekToken(ctx, second.Hash, "reset", now)
		must(t, "peek new", err)
		if got.CodeHash != "c2" || got.Data != "new@example.com" || got.Tries != 1 || got.UserID != "u1" {
			t.Errorf("peek = %+v, want code c2, the data, 1 try (the wrong old code), user u1", got)
		}
		for _, g := range []*store.OneTimeToken{other, otherUser} {
			_, err := s.PeekToken(ctx, g.Hash, g.Purpose, now)
			must(t, "another purpose or user is not replaced", err)
		}
		wantErr(t, "same hash", s.IssueToken(ctx, &store.OneTimeToken{Hash: other.Hash, Purpose: "x", UserID: "u2", ExpiresAt: now.Add(time.Hour)}), store.ErrConflict)
	})

	t.Run("CodeConsumesTheLink", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		now := time.Now()
		g := grant("u1", "reset", "right", now.Add(time.Hour))
		must(t, "issue", s.IssueToken(ctx, g))
		got, err := s.TryCode(ctx, "u1", "reset", []string{"old-key", "right"}, 5, now)
		must(t, "right code under the second key", err)
		if got.Hash != g.Hash || got.Data != g.Data {
			t.Errorf("TryCode = %+v, want the grant", got)
		}
		_, err = s.ConsumeToken(ctx, g.Hash, "reset", now)
		wantErr(t, "link after its code", err, store.ErrNotFound)
		_, err = s.TryCode(ctx, "u1", "reset", []string{"right"}, 5, now)
		wantErr(t, "code twice", err, store.ErrNotFound)
	})

	t.Run("LinkConsumesTheCode", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		now := time.Now()
		g := grant("u1", "reset", "right", now.Add(time.Hour))
		must(t, "issue", s.IssueToken(ctx, g))
		_, err := s.ConsumeToken(ctx, g.Hash, "reset", now)
		must(t, "link", err)
		_, err = s.TryCode(ctx, "u1", "reset", []string{"right"}, 5, now)
		wantErr(t, "code after its link", err, store.ErrNotFound)
	})

	t.Run("TriesRunOut", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		now := time.Now()
		g := grant("u1", "reset", "right", now.Add(time.Hour))
		must(t, "issue", s.IssueToken(ctx, g))
		for i := range 4 {
			_, err := s.TryCode(ctx, "u1", "reset", []string{"wrong"}, 5, now)
			wantErr(t, "wrong code", err, store.ErrNotFound)
			got, err := s.PeekToken(ctx, g.Hash, "reset", now)
			must(t, "alive after a wrong code", err)
			if got.Tries != i+1 {
				t.Errorf("tries = %d, want %d", got.Tries, i+1)
			}
		}
		_, err := s.TryCode(ctx, "u1", "reset", []string{"wrong"}, 5, now)
		wantErr(t, "fifth wrong code", err, store.ErrNotFound)
		_, err = s.PeekToken(ctx, g.Hash, "reset", now)
		wantErr(t, "link after five wrong codes", err, store.ErrNotFound)
		_, err = s.TryCode(ctx, "u1", "reset", []string{"right"}, 5, now)
		wantErr(t, "right code after five wrong", err, store.ErrNotFound)
	})

	t.Run("ExpiredAndNoCode", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		addUser(t, "u2")
		now := time.Now()
		g := grant("u1", "reset", "right", now.Add(time.Minute))
		must(t, "issue", s.IssueToken(ctx, g))
		_, err := s.TryCode(ctx, "u1", "reset", []string{"right"}, 5, g.ExpiresAt)
		wantErr(t, "code at expiry", err, store.ErrNotFound)
		_, err = s.TryCode(ctx, "u1", "other", []string{"right"}, 5, now)
		wantErr(t, "wrong purpose", err, store.ErrNotFound)
		_, err = s.TryCode(ctx, "u2", "reset", []string{"right"}, 5, now)
		wantErr(t, "wrong user", err, store.ErrNotFound)
		linkOnly := grant("u2", "invite", "", now.Add(time.Hour))
		must(t, "issue link only", s.IssueToken(ctx, linkOnly))
		_, err = s.TryCode(ctx, "u2", "invite", []string{""}, 5, now)
		wantErr(t, "a grant without a code", err, store.ErrNotFound)
		_, err = s.TryCode(ctx, "u1", "reset", []string{"right"}, 5, now)
		must(t, "in time, after the refusals", err)
	})

	t.Run("ConcurrentIssuesLeaveOne", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		// Racing issues for one (user, purpose), and for the tokens bound
		// to no user (the first-run setup link several instances issue at
		// once when they start together), each leave exactly one live
		// token: the last one issued, never several.
		for _, user := range []string{"u1", ""} {
			const racers = 16
			now := time.Now()
			gs := make([]*store.OneTimeToken, racers)
			for i := range gs {
				gs[i] = grant(user, "setup", "", now.Add(time.Hour))
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for _, g := range gs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					if err := s.IssueToken(ctx, g); err != nil {
						t.Errorf("issue for %q: %v", user, err)
					}
				}()
			}
			close(start)
			wg.Wait()
			live := 0
			for _, g := range gs {
				if _, err := s.PeekToken(ctx, g.Hash, "setup", now); err == nil {
					live++
				} else if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("peek: %v", err)
				}
			}
			if live != 1 {
				t.Errorf("user %q: %d of %d racing issues are live, want exactly 1", user, live, racers)
			}
		}
	})

	t.Run("ConcurrentTriesBounded", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		g := grant("u1", "reset", "right", time.Now().Add(time.Hour))
		must(t, "issue", s.IssueToken(ctx, g))
		const racers = 32
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			mu    sync.Mutex
			wins  int
		)
		// Every racer sends the right code: if more than 5 compared, or
		// more than one won, the bound or the single use is broken. The
		// first five tries are all right, so exactly one wins.
		for range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := s.TryCode(ctx, "u1", "reset", []string{"right"}, 5, time.Now())
				switch {
				case err == nil:
					mu.Lock()
					wins++
					mu.Unlock()
				case !errors.Is(err, store.ErrNotFound):
					t.Errorf("try: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins != 1 {
			t.Errorf("%d racers won, want exactly 1", wins)
		}

		// Wrong codes racing: at most 5 are compared, and the grant dies.
		g = grant("u1", "reset", "right", time.Now().Add(time.Hour))
		must(t, "issue", s.IssueToken(ctx, g))
		start = make(chan struct{})
		for range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if _, err := s.TryCode(ctx, "u1", "reset", []string{"wrong"}, 5, time.Now()); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("wrong code: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		_, err := s.PeekToken(ctx, g.Hash, "reset", time.Now())
		wantErr(t, "grant after racing wrong codes", err, store.ErrNotFound)
	})
}

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

// full is a full login (no pending stage) built like session.
func full(user string, c time.Time) *store.Session {
	s := session(user, c)
	s.Pending = ""
	return s
}

// testSessionCap: CreateSessionCapped keeps at most max sessions of a kind
// per user, evicting the oldest, and holds under any concurrency (issue 9:
// 20 concurrent logins with a cap of 2 left 3 sessions alive).
func testSessionCap(t *testing.T, open func(t *testing.T) (store.SessionStore, AddUser)) {
	ctx := context.Background()

	t.Run("CapEvictsOldestOfItsKind", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		addUser(t, "u1")
		addUser(t, "u2")
		base := time.Now().Add(-time.Hour)
		var fulls []*store.Session
		for i := range 3 {
			in := full("u1", base.Add(time.Duration(i)*time.Minute))
			ev, err := s.CreateSessionCapped(ctx, in, 2)
			must(t, "create", err)
			if i < 2 && len(ev) != 0 {
				t.Errorf("create %d evicted %v under the cap", i, ev)
			}
			if i == 2 && !slices.Equal(ev, []string{fulls[0].ID}) {
				t.Errorf("third create evicted %d ids, want only the oldest", len(ev))
			}
			fulls = append(fulls, in)
		}
		// A challenge stage is capped on its own: it evicts no full login.
		stage := session("u1", base.Add(10*time.Minute))
		ev, err := s.CreateSessionCapped(ctx, stage, 2)
		must(t, "create stage", err)
		if len(ev) != 0 {
			t.Errorf("a challenge stage evicted %d full sessions", len(ev))
		}
		// Another user's sessions are not counted.
		_, err = s.CreateSessionCapped(ctx, full("u2", base), 2)
		must(t, "create other user", err)
		list, err := s.ListUserSessions(ctx, "u1")
		must(t, "list", err)
		if got, want := sessionIDs(list), []string{fulls[1].ID, fulls[2].ID, stage.ID}; !slices.Equal(got, want) {
			t.Errorf("sessions after the cap: %d listed, want the two newest full ones and the stage", len(got))
		}
		if _, err := s.GetSession(ctx, fulls[0].ID); err == nil {
			t.Error("the evicted session can still be read")
		}
		// A newer create with an older CreatedAt never evicts itself.
		old := full("u1", base.Add(-time.Hour))
		ev, err = s.CreateSessionCapped(ctx, old, 2)
		must(t, "create old", err)
		if slices.Contains(ev, old.ID) || len(ev) != 1 {
			t.Errorf("create evicted %d ids (itself: %v), want one other", len(ev), slices.Contains(ev, old.ID))
		}
		if _, err := s.GetSession(ctx, old.ID); err != nil {
			t.Errorf("the new session was evicted by its own create: %v", err)
		}
		// No cap.
		for range 3 {
			ev, err := s.CreateSessionCapped(ctx, full("u2", time.Now()), 0)
			must(t, "create uncapped", err)
			if len(ev) != 0 {
				t.Errorf("max 0 evicted %d", len(ev))
			}
		}
	})

	t.Run("CapHoldsUnderConcurrency", func(t *testing.T) {
		t.Parallel()
		s, addUser := open(t)
		const rounds, logins, max = 25, 20, 2
		for r := range rounds {
			user := fmt.Sprintf("cap-%d", r)
			addUser(t, user)
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				evicted = map[string]bool{}
			)
			for i := range logins {
				wg.Add(1)
				go func() {
					defer wg.Done()
					in := full(user, time.Now())
					if i%4 == 3 {
						in = session(user, time.Now()) // a stage now and then
					}
					ev, err := s.CreateSessionCapped(ctx, in, max)
					if err != nil {
						t.Errorf("create: %v", err)
						return
					}
					mu.Lock()
					for _, id := range ev {
						if evicted[id] {
							t.Errorf("session evicted twice")
						}
						evicted[id] = true
					}
					mu.Unlock()
				}()
			}
			wg.Wait()
			list, err := s.ListUserSessions(ctx, user)
			must(t, "list", err)
			var nFull, nStage int
			for _, x := range list {
				if evicted[x.ID] {
					t.Errorf("round %d: a session reported evicted is still listed", r)
				}
				if x.Full() {
					nFull++
				} else {
					nStage++
				}
			}
			if nFull != max || nStage != max {
				t.Fatalf("round %d: %d full sessions and %d stages alive after %d concurrent creates with a cap of %d", r, nFull, nStage, logins, max)
			}
			if len(evicted) != logins-2*max {
				t.Fatalf("round %d: %d evictions reported, want %d", r, len(evicted), logins-2*max)
			}
		}
	})
}

package flows

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
)

// countingSessions counts every session-store call (a store command each on
// Redis or SQL).
type countingSessions struct {
	store.SessionStore
	mu sync.Mutex
	n  int
}

func (c *countingSessions) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *countingSessions) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
func (c *countingSessions) reset() { c.mu.Lock(); c.n = 0; c.mu.Unlock() }
func (c *countingSessions) CreateSession(ctx context.Context, s *store.Session) error {
	c.add()
	return c.SessionStore.CreateSession(ctx, s)
}

func (c *countingSessions) CreateSessionCapped(ctx context.Context, s *store.Session, max int) ([]string, error) {
	c.add()
	return c.SessionStore.CreateSessionCapped(ctx, s, max)
}

func (c *countingSessions) GetSession(ctx context.Context, id string) (*store.Session, error) {
	c.add()
	return c.SessionStore.GetSession(ctx, id)
}

func (c *countingSessions) TouchSession(ctx context.Context, id string, a, b time.Time) error {
	c.add()
	return c.SessionStore.TouchSession(ctx, id, a, b)
}

func (c *countingSessions) DeleteSession(ctx context.Context, id string) error {
	c.add()
	return c.SessionStore.DeleteSession(ctx, id)
}

func (c *countingSessions) ListUserSessions(ctx context.Context, userID string) ([]*store.Session, error) {
	c.add()
	return c.SessionStore.ListUserSessions(ctx, userID)
}

func (c *countingSessions) DeleteUserSessions(ctx context.Context, userID string) ([]string, error) {
	c.add()
	return c.SessionStore.DeleteUserSessions(ctx, userID)
}

// countingBroadcaster records the revocations sent to other instances.
type countingBroadcaster struct {
	mu  sync.Mutex
	ids []string
	n   int
}

func (b *countingBroadcaster) PublishRevoked(_ context.Context, ids []string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	b.ids = append(b.ids, ids...)
	return nil
}

func (b *countingBroadcaster) get() (int, []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n, append([]string(nil), b.ids...)
}
func (b *countingBroadcaster) reset() { b.mu.Lock(); b.n, b.ids = 0, nil; b.mu.Unlock() }

func countingEnv(t *testing.T) (*env, *countingSessions, *countingBroadcaster) {
	t.Helper()
	cs, bc := &countingSessions{}, &countingBroadcaster{}
	e := newEnvWith(t, Config{}, GuardConfig{}, func(d *Deps) {
		mem := d.Users.(*memory.Store)
		cs.SessionStore = mem
		mgr, err := session.New(cs, mem, session.Config{CacheTTL: -1})
		if err != nil {
			t.Fatal(err)
		}
		mgr.SetBroadcaster(bc)
		d.Sessions = mgr
	})
	return e, cs, bc
}

// madeUpCookies is a Cookie header with n well-formed tokens that are no
// session (the shape that passes the format check and reaches the store).
func madeUpCookies(name string, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = name + "=" + keys.NewToken()
	}
	return strings.Join(parts, "; ")
}

// TestLogoutBoundedWork: issue 9 item 6. One anonymous logout with 300
// made-up session cookies cost about 1,200 store commands and 300
// broadcasts; now it tries at most as many values as the session lookup
// does (maxSessionCookies) and broadcasts only a revocation that happened.
// Login rotation (rotateSession, revokeBrowser) runs the same bounded loop.
func TestLogoutBoundedWork(t *testing.T) {
	for _, tc := range []struct {
		name      string
		path      string
		body      string
		live      bool // the browser's real session cookie comes first
		split     bool // one Cookie header per value, quoted (HTTP/2 style)
		maxCalls  int
		wantBcast int
	}{
		{"anonymous logout", "/auth/logout", "", false, false, maxSessionCookies, 0},
		{"anonymous logout, split quoted headers", "/auth/logout", "", false, true, maxSessionCookies, 0},
		{"logout with a live session first", "/auth/logout", "", true, false, maxSessionCookies + 2, 1},
		{"login rotation", "/auth/login", `{"email":"alice@example.test","password":"` + alicePW + `"}`, false, false, maxSessionCookies + 3, 0},
		{"login rotation of a live session", "/auth/login", `{"email":"alice@example.test","password":"` + alicePW + `"}`, true, false, maxSessionCookies + 4, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, cs, bc := countingEnv(t)
			name := e.svc.CookieName()
			hdr := madeUpCookies(name, 300)
			var liveID string
			if tc.live {
				c := e.login(alicePW)
				liveID = keys.HashToken(c.Value)
				hdr = name + "=" + c.Value + "; " + hdr
			}
			cs.reset()
			bc.reset()
			r := jsonReq("POST", tc.path, tc.body)
			if tc.split {
				for _, c := range strings.Split(hdr, "; ") {
					n, v, _ := strings.Cut(c, "=")
					r.Header.Add("Cookie", n+`="`+v+`"`)
				}
			} else {
				r.Header.Set("Cookie", hdr)
			}
			res := e.do(r)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d", res.StatusCode)
			}
			if n := cs.calls(); n > tc.maxCalls {
				t.Errorf("%d session-store calls for 300 cookies, want at most %d", n, tc.maxCalls)
			}
			n, ids := bc.get()
			if n != tc.wantBcast {
				t.Errorf("%d broadcasts (%d ids), want %d", n, len(ids), tc.wantBcast)
			}
			if tc.live && (len(ids) != 1 || ids[0] != liveID) {
				t.Errorf("%d broadcast ids, want only the live session", len(ids))
			}
			if tc.live {
				if _, err := e.mem.GetSession(context.Background(), liveID); err == nil {
					t.Error("the live session survived")
				}
			}
		})
	}
}

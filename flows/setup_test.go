package flows

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
)

type linkEnv struct {
	svc *Service
	mem *memory.Store
	clk *clock
}

func newLinkEnv(t *testing.T) *linkEnv {
	t.Helper()
	mem := memory.New()
	clk := newClock()
	mgr, _ := session.New(mem, mem, session.Config{Now: clk.Now})
	svc, err := New(Config{Now: clk.Now, SetupTTL: time.Hour}, Deps{Users: mem, Tokens: mem, Sessions: mgr, Hasher: password.New(fastHash, 4)})
	if err != nil {
		t.Fatal(err)
	}
	return &linkEnv{svc: svc, mem: mem, clk: clk}
}

func (e *linkEnv) do(r *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	e.svc.Portal("/auth").ServeHTTP(rec, r)
	return rec.Result()
}

func (e *linkEnv) post(tok, email string) *http.Response {
	return e.do(jsonReq("POST", "/auth/setup", `{"token":"`+tok+`","email":"`+email+`","password":"a long enough passphrase"}`))
}

// TestSetupLinkExpires: a link older than SetupTTL shows no page and
// creates no account.
func TestSetupLinkExpires(t *testing.T) {
	e := newLinkEnv(t)
	tok, exp, err := e.svc.NewSetupToken(context.Background())
	if err != nil || tok == "" {
		t.Fatal(tok, err)
	}
	if got := exp.Sub(e.clk.Now()); got != time.Hour {
		t.Fatalf("link valid for %v, want 1h", got)
	}
	e.clk.Advance(time.Hour + time.Second)
	if res := e.do(httptest.NewRequest("GET", "/auth/setup?token="+tok, nil)); res.StatusCode != 404 {
		t.Fatalf("expired link page: %d", res.StatusCode)
	}
	if res := e.post(tok, "root@example.test"); res.StatusCode != 404 {
		t.Fatalf("expired link post: %d", res.StatusCode)
	}
	if n, _ := e.mem.CountUsers(context.Background()); n != 0 {
		t.Fatalf("%d users after an expired link", n)
	}
}

// TestSetupNewestLinkOnly: a restart (or reload) logs a new link and the
// earlier ones stop working.
func TestSetupNewestLinkOnly(t *testing.T) {
	e := newLinkEnv(t)
	ctx := context.Background()
	old, _, _ := e.svc.NewSetupToken(ctx)
	tok, _, _ := e.svc.NewSetupToken(ctx)
	if old == "" || tok == "" || old == tok {
		t.Fatalf("tokens %q %q", old, tok)
	}
	if res := e.post(old, "old@example.test"); res.StatusCode != 404 {
		t.Fatalf("the replaced link still works: %d", res.StatusCode)
	}
	if res := e.post(tok, "root@example.test"); res.StatusCode != 200 {
		t.Fatalf("the newest link: %d", res.StatusCode)
	}
}

// TestSetupTwoLiveLinksOneAdmin: two instances starting together can each
// leave a live link; posted at once, they still make one administrator.
func TestSetupTwoLiveLinksOneAdmin(t *testing.T) {
	for round := range 20 {
		e := newLinkEnv(t)
		ctx := context.Background()
		a, _, _ := e.svc.NewSetupToken(ctx)
		b := keys.NewToken() // the other instance's link
		if err := e.mem.CreateToken(ctx, &store.OneTimeToken{Hash: keys.HashToken(b), Purpose: SetupPurpose, ExpiresAt: e.clk.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		codes := make([]int, 2)
		var wg sync.WaitGroup
		for i, tok := range []string{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = e.post(tok, "admin"+string(rune('a'+i))+"@example.test").StatusCode
			}()
		}
		wg.Wait()
		n, _ := e.mem.CountUsers(ctx)
		ok := (codes[0] == 200) != (codes[1] == 200)
		if !ok || n != 1 {
			t.Fatalf("round %d: answers %v, %d users; want one 200 and one 404, one user", round, codes, n)
		}
	}
}

package flows

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
)

// post sends the setup form with tok (not necessarily e.tok).
func (e *setupEnv) post(tok, email string) *http.Response {
	res, _ := e.do(jsonReq("POST", "/auth/setup", `{"token":"`+tok+`","email":"`+email+`","password":"a long enough passphrase"}`))
	return res
}

// TestSetupLinkExpires: a link older than SetupTTL shows no page and
// creates no account.
func TestSetupLinkExpires(t *testing.T) {
	e := newSetupEnv(t)
	page := func() int {
		res, _ := e.do(httptest.NewRequest("GET", "/auth/setup?token="+e.tok, nil))
		return res.StatusCode
	}
	e.clk.Advance(59 * time.Minute)
	if code := page(); code != 200 {
		t.Fatalf("link after 59 min: %d, want the page", code)
	}
	e.clk.Advance(time.Minute + time.Second)
	if code := page(); code != 404 {
		t.Fatalf("expired link page: %d", code)
	}
	if res := e.post(e.tok, "root@example.test"); res.StatusCode != 404 {
		t.Fatalf("expired link post: %d", res.StatusCode)
	}
	if n, _ := e.mem.CountUsers(context.Background()); n != 0 {
		t.Fatalf("%d users after an expired link", n)
	}
}

// TestSetupNewestLinkOnly: a restart (or reload) logs a new link and the
// earlier ones stop working.
func TestSetupNewestLinkOnly(t *testing.T) {
	e := newSetupEnv(t)
	ctx := context.Background()
	old := e.tok
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
		e := newSetupEnv(t)
		ctx := context.Background()
		a := e.tok
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

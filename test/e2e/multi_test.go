package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddyauth/gateway/test/harness"
)

// multi starts three gateway processes (the real binary) on one fresh
// PostgreSQL database and one Redis, in front of one echo upstream; edit
// tweaks the shared config. before runs once the configs exist and before
// any gateway starts (to add users with the CLI), if not nil.
func multi(t *testing.T, edit func(*harness.GatewayConfig), before func(*harness.Gateways)) *harness.Gateways {
	t.Helper()
	up := harness.Upstream(t)
	cfg := harness.GatewayConfig{
		Upstream:       harness.UpstreamAddr(up),
		ProtectOptions: []string{"public /health"},
	}
	if edit != nil {
		edit(&cfg)
	}
	c := harness.PrepareGateways(t, 3, cfg)
	if before != nil {
		before(c)
	}
	c.Start()
	return c
}

// TestMultiSessionShared: a login on A is a session on B and C, with the
// same identity headers; the session listing made on C shows it.
func TestMultiSessionShared(t *testing.T) {
	t.Parallel()
	pw := newPassword()
	var id string
	c := multi(t, nil, func(c *harness.Gateways) { id = c.AddUser("alice@example.test", "Alice", pw) })
	a := c.Client(0)
	a.Login("alice@example.test", pw)
	tok := a.Cookie(cookieName)
	if tok == "" {
		t.Fatal("no session cookie after login on A")
	}
	for i := 0; i < 3; i++ {
		r := c.Client(i).Get("/app", hdr(api, withCookie(tok))...)
		expectStatus(t, r, http.StatusOK)
		if got := r.Echo().Values("Remote-User")["Remote-User"]; len(got) != 1 || got[0] != id {
			t.Errorf("instance %d: Remote-User = %v, want %s", i, got, id)
		}
	}
	// A forged token is refused everywhere (the shared store decides, not luck).
	for i := 0; i < 3; i++ {
		expectError(t, c.Client(i).Get("/app", hdr(api, withCookie("x"+tok[1:]))...), http.StatusUnauthorized, "SESSION_EXPIRED")
	}
}

// TestMultiLogoutFelt: a session cached on A and B (default 5s session
// cache) is refused on both within 1s of a logout on C: the revocation
// reaches the other instances' caches (Redis pub/sub), it does not wait
// for the cache to expire. The figure is printed.
func TestMultiLogoutFelt(t *testing.T) {
	t.Parallel()
	pw := newPassword()
	c := multi(t, nil, func(c *harness.Gateways) { c.AddUser("alice@example.test", "Alice", pw) })
	onC := c.Client(2)
	onC.Login("alice@example.test", pw)
	tok := onC.Cookie(cookieName)
	onA, onB := c.Client(0), c.Client(1)
	for _, cl := range []*harness.Client{onA, onB} {
		expectStatus(t, cl.Get("/app", hdr(api, withCookie(tok))...), http.StatusOK)
	}
	expectStatus(t, onC.PostJSON("/auth/logout", map[string]string{}), http.StatusOK)
	for name, cl := range map[string]*harness.Client{"A": onA, "B": onB} {
		_, took := waitStatus(t, cl, "/app", http.StatusUnauthorized, time.Second, hdr(api, withCookie(tok))...)
		t.Logf("logout on C felt on %s after %s", name, took.Round(time.Millisecond))
		if took > time.Second {
			t.Errorf("logout on C took %s to reach %s, want <= 1s", took, name)
		}
		expectError(t, cl.Get("/app", hdr(api, withCookie(tok))...), http.StatusUnauthorized, "SESSION_EXPIRED")
	}
}

// TestMultiRateLimitShared: the login budget of one identifier is one
// budget across the three instances.
func TestMultiRateLimitShared(t *testing.T) {
	t.Parallel()
	pw := newPassword()
	c := multi(t, func(cfg *harness.GatewayConfig) {
		cfg.Limits = true
		cfg.AppOptions = append(cfg.AppOptions, "rate_limit {", "\tlogin_ip off", "\tlogin_identifier 6/1h", "}", "lockout off")
	}, func(c *harness.Gateways) { c.AddUser("alice@example.test", "Alice", pw) })
	wrong := map[string]string{"email": "alice@example.test", "password": "wrong password here"}
	for i := range 6 {
		if r := c.Client(i%3).PostJSON("/auth/login", wrong); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d on instance %d: %s", i+1, i%3, r)
		}
	}
	for i := range 3 {
		expectError(t, c.Client(i).PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw}), http.StatusTooManyRequests, "RATE_LIMITED")
	}
}

// TestMultiLockoutShared: failures spread over the three instances add up
// to one lockout, which holds on all three, and `caddy auth user unlock`
// lifts it on all three.
func TestMultiLockoutShared(t *testing.T) {
	t.Parallel()
	pw := newPassword()
	c := multi(t, func(cfg *harness.GatewayConfig) {
		cfg.Limits = true
		cfg.AppOptions = append(cfg.AppOptions, "rate_limit off", "lockout 3 1h 1h")
	}, func(c *harness.Gateways) { c.AddUser("alice@example.test", "Alice", pw) })
	wrong := map[string]string{"email": "alice@example.test", "password": "wrong password here"}
	right := map[string]string{"email": "alice@example.test", "password": pw}
	for i := range 3 {
		if r := c.Client(i).PostJSON("/auth/login", wrong); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d on instance %d: %s", i+1, i, r)
		}
	}
	for i := range 3 {
		expectError(t, c.Client(i).PostJSON("/auth/login", right), http.StatusTooManyRequests, "ACCOUNT_LOCKED")
	}
	if out, errOut, code := c.CLI("", "auth", "user", "unlock", "alice@example.test"); code != 0 {
		t.Fatalf("user unlock: exit %d\n%s%s", code, out, errOut)
	}
	for i := range 3 {
		expectStatus(t, c.Client(i).PostJSON("/auth/login", right), http.StatusOK)
	}
}

// TestMultiMethodSwitch: `caddy auth methods disable password` reaches
// all three running instances; `enable` restores all three.
func TestMultiMethodSwitch(t *testing.T) {
	t.Parallel()
	pw := newPassword()
	c := multi(t, nil, func(c *harness.Gateways) { c.AddUser("alice@example.test", "Alice", pw) })
	creds := map[string]string{"email": "alice@example.test", "password": pw}
	for i := range 3 {
		expectStatus(t, c.Client(i).PostJSON("/auth/login", creds), http.StatusOK)
	}
	for _, step := range []struct {
		verb   string
		status int
	}{{"disable", http.StatusForbidden}, {"enable", http.StatusOK}} {
		if out, errOut, code := c.CLI("", "auth", "methods", step.verb, "password"); code != 0 {
			t.Fatalf("methods %s: exit %d\n%s%s", step.verb, code, out, errOut)
		}
		switched := time.Now()
		for i := range 3 {
			cl := c.Client(i)
			var last *harness.Response
			if ok, _ := harness.Eventually(switchWithin, 100*time.Millisecond, func() bool {
				last = cl.PostJSON("/auth/login", creds)
				return last.StatusCode == step.status
			}); !ok {
				t.Fatalf("instance %d after methods %s: %s", i, step.verb, last)
			}
			if step.status == http.StatusForbidden {
				expectError(t, last, http.StatusForbidden, "METHOD_DISABLED")
			}
			t.Logf("methods %s felt on instance %d after %s", step.verb, i, time.Since(switched).Round(time.Millisecond))
		}
	}
}

// TestMultiAdminActions: an administrator's actions (the CLI, which acts
// on the shared database and tells the instances) reach all three: a
// disabled user's sessions die on every instance and no instance lets
// them log in; once enabled, any instance does; logout-all ends sessions
// made on different instances.
func TestMultiAdminActions(t *testing.T) {
	t.Parallel()
	pw := newPassword()
	c := multi(t, nil, func(c *harness.Gateways) { c.AddUser("alice@example.test", "Alice", pw) })
	creds := map[string]string{"email": "alice@example.test", "password": pw}
	toks := make([]string, 3)
	for i := range 3 {
		cl := c.Client(i)
		cl.Login("alice@example.test", pw)
		toks[i] = cl.Cookie(cookieName)
	}
	if out, errOut, code := c.CLI("", "auth", "user", "disable", "alice@example.test"); code != 0 {
		t.Fatalf("user disable: exit %d\n%s%s", code, out, errOut)
	}
	for i := range 3 {
		for _, tok := range toks {
			waitStatus(t, c.Client(i), "/app", http.StatusUnauthorized, revokeWithin, hdr(api, withCookie(tok))...)
		}
		if r := c.Client(i).PostJSON("/auth/login", creds); r.StatusCode == http.StatusOK {
			t.Fatalf("instance %d logs a disabled user in: %s", i, r)
		}
	}
	if out, errOut, code := c.CLI("", "auth", "user", "enable", "alice@example.test"); code != 0 {
		t.Fatalf("user enable: exit %d\n%s%s", code, out, errOut)
	}
	for i := range 3 {
		cl := c.Client(i)
		cl.Login("alice@example.test", pw)
		toks[i] = cl.Cookie(cookieName)
	}
	if out, errOut, code := c.CLI("", "auth", "user", "logout-all", "alice@example.test"); code != 0 {
		t.Fatalf("user logout-all: exit %d\n%s%s", code, out, errOut)
	}
	for i := range 3 {
		for _, tok := range toks {
			waitStatus(t, c.Client(i), "/app", http.StatusUnauthorized, revokeWithin, hdr(api, withCookie(tok))...)
		}
	}
}

// TestMultiOutboxExactlyOnce: 30 mails queued through the three
// instances (forgot-password), each of which runs an outbox worker on the
// shared database, arrive in mailpit exactly once each: 30 mails, 30
// recipients, 30 distinct Message-IDs, each derived from its outbox id,
// and no late duplicate.
func TestMultiOutboxExactlyOnce(t *testing.T) {
	t.Parallel()
	const n = 30
	mp := harness.StartMailpit(t)
	c := multi(t, func(cfg *harness.GatewayConfig) {
		cfg.AppOptions = append(cfg.AppOptions, mp.EmailOption())
	}, func(c *harness.Gateways) {
		for i := range n {
			c.AddUser(fmt.Sprintf("user%02d@example.test", i), "", newPassword())
		}
	})
	var wg sync.WaitGroup
	status := make([]int, n)
	reqs := make([]*http.Request, n)
	clients := make([]*harness.Client, n)
	for i := range n {
		clients[i] = c.Client(i % 3)
		reqs[i] = clients[i].NewRequest(http.MethodPost, "/auth/forgot-password",
			strings.NewReader(fmt.Sprintf(`{"email":"user%02d@example.test"}`, i)), "Content-Type", "application/json", "Accept", "application/json")
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, err := clients[i].TryDo(reqs[i]); err == nil {
				status[i] = r.StatusCode
			}
		}()
	}
	wg.Wait()
	for i, s := range status {
		if s != http.StatusAccepted {
			t.Fatalf("forgot-password %d answered %d, want 202", i, s)
		}
	}
	var mails []harness.Mail
	if ok, _ := harness.Eventually(60*time.Second, 200*time.Millisecond, func() bool {
		mails, _ = mp.Messages()
		return len(mails) >= n
	}); !ok {
		t.Fatalf("mailpit holds %d mails after 60s, want %d", len(mails), n)
	}
	// Give a duplicate (a second worker's attempt) time to show.
	time.Sleep(3 * time.Second)
	mails, err := mp.Messages()
	if err != nil {
		t.Fatal(err)
	}
	to, ids := map[string]int{}, map[string]int{}
	for _, m := range mails {
		for _, a := range m.To {
			to[a]++
		}
		ids[m.MessageID]++
		if !strings.HasSuffix(m.MessageID, ".caddyauth@example.test") {
			t.Errorf("Message-ID %q is not derived from an outbox id", m.MessageID)
		}
	}
	t.Logf("%d mails queued through 3 instances, %d delivered, %d recipients, %d Message-IDs", n, len(mails), len(to), len(ids))
	if len(mails) != n || len(to) != n || len(ids) != n {
		t.Errorf("delivered %d mails to %d recipients with %d Message-IDs, want %d of each (exactly once)", len(mails), len(to), len(ids), n)
	}
	db, err := pgx.Connect(context.Background(), c.DB.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	var sent int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE status = 'sent'`).Scan(&sent); err != nil {
		t.Fatal(err)
	}
	if sent != n {
		t.Errorf("outbox has %d sent rows, want %d", sent, n)
	}
}

// TestMultiAuditChain: logins, failures and logouts on the three
// instances at once append to one audit chain, which `caddy auth audit
// verify` accepts.
func TestMultiAuditChain(t *testing.T) {
	t.Parallel()
	pw := newPassword()
	// 18 sessions of one user at once: above the default cap of 10, an
	// evicted session's logout would (rightly) record nothing.
	c := multi(t, func(cfg *harness.GatewayConfig) {
		cfg.AppOptions = append(cfg.AppOptions, "max_sessions_per_user 50")
	}, func(c *harness.Gateways) { c.AddUser("alice@example.test", "Alice", pw) })
	const perInstance = 6
	var wg sync.WaitGroup
	errs := make(chan string, 3*perInstance)
	for i := range 3 {
		for j := range perInstance {
			cl := c.Client(i)
			right := map[string]string{"email": "alice@example.test", "password": pw}
			wrong := map[string]string{"email": "alice@example.test", "password": "wrong password here"}
			b1, _ := json.Marshal(wrong)
			b2, _ := json.Marshal(right)
			h := []string{"Content-Type", "application/json", "Accept", "application/json"}
			r1 := cl.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(string(b1)), h...)
			r2 := cl.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(string(b2)), h...)
			r3 := cl.NewRequest(http.MethodPost, "/auth/logout", strings.NewReader("{}"), h...)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k, r := range []*http.Request{r1, r2, r3} {
					res, err := cl.TryDo(r)
					if err != nil || res.StatusCode != []int{http.StatusUnauthorized, http.StatusOK, http.StatusOK}[k] {
						errs <- fmt.Sprintf("instance %d round %d step %d: %v %v", i, j, k, err, res)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	// The audit record of a request may be appended just after its
	// answer: poll until all are there (or the chain is broken).
	want := 1 + 3*3*perInstance // user.created + per round: failed, login, logout
	var out string
	ok, _ := harness.Eventually(15*time.Second, 250*time.Millisecond, func() bool {
		o, errOut, code := c.CLI("", "auth", "audit", "verify")
		out = o
		if code != 0 || !strings.HasPrefix(out, "ok: ") {
			t.Fatalf("audit verify: exit %d\n%s%s", code, out, errOut)
		}
		var records int
		_, err := fmt.Sscanf(out, "ok: %d records", &records)
		return err == nil && records >= want
	})
	if !ok {
		t.Errorf("audit verify: %q, want at least %d records", out, want)
	}
	t.Logf("audit verify after concurrent writes by 3 instances: %s", strings.TrimSpace(out))
	if t.Failed() {
		if db, err := pgx.Connect(context.Background(), c.DB.DSN); err == nil {
			rows, err := db.Query(context.Background(), `SELECT type, count(*) FROM audit_log GROUP BY type ORDER BY type`)
			for err == nil && rows.Next() {
				var typ string
				var n int
				if rows.Scan(&typ, &n) == nil {
					t.Logf("audit records of type %s: %d", typ, n)
				}
			}
			db.Close(context.Background())
		}
		for i, p := range c.Procs {
			for _, l := range strings.Split(p.Logs(), "\n") {
				if strings.Contains(l, "audit") && strings.Contains(l, `"level":"error"`) {
					t.Logf("instance %d: %s", i, l)
				}
			}
		}
	}
}

// TestMultiFirstRunSetup: three instances started at once on an empty
// database each log a setup link; exactly one link is live (the grant
// store replaced the others), and the three links posted at once, each
// to its own instance, make exactly one administrator.
func TestMultiFirstRunSetup(t *testing.T) {
	t.Parallel()
	c := multi(t, nil, nil)
	tokens := make([]string, 3)
	for i, p := range c.Procs {
		link, _ := p.WaitLog("no user exists yet", 20*time.Second)["setup_path"].(string)
		u, err := url.Parse(link)
		if err != nil || u.Query().Get("token") == "" {
			t.Fatalf("instance %d setup_path %q", i, link)
		}
		tokens[i] = u.Query().Get("token")
		// The setup link is the one token the gateway logs, by design.
	}
	live := 0
	for i, tok := range tokens {
		switch r := c.Client((i+1)%3).Get("/auth/setup?token="+url.QueryEscape(tok), browser...); r.StatusCode {
		case http.StatusOK:
			live++
		case http.StatusNotFound:
		default:
			t.Fatalf("setup page for link %d: %s", i, r)
		}
	}
	if live != 1 {
		t.Errorf("%d of the 3 setup links are live, want exactly 1", live)
	}
	pw := newPassword()
	codes := make([]int, 3)
	reqs := make([]*http.Request, 3)
	clients := make([]*harness.Client, 3)
	for i, tok := range tokens {
		clients[i] = c.Client(i)
		form := url.Values{"token": {tok}, "email": {fmt.Sprintf("admin%d@example.test", i)}, "password": {pw}, "confirm": {pw}}
		reqs[i] = clients[i].NewRequest(http.MethodPost, "/auth/setup", strings.NewReader(form.Encode()),
			"Content-Type", "application/x-www-form-urlencoded", "Accept", "application/json")
	}
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, err := clients[i].TryDo(reqs[i]); err == nil {
				codes[i] = r.StatusCode
			}
		}()
	}
	wg.Wait()
	ok := 0
	for i, code := range codes {
		switch code {
		case http.StatusOK:
			ok++
		case http.StatusNotFound:
		default:
			t.Errorf("setup post %d answered %d, want 200 or 404", i, code)
		}
	}
	if ok != 1 {
		t.Errorf("%d setup posts succeeded, want exactly 1 (answers %v)", ok, codes)
	}
	out, _, _ := c.CLI("", "auth", "user", "list")
	if n := strings.Count(out, "@example.test"); n != 1 {
		t.Errorf("%d users after three instances' setup:\n%s", n, out)
	}
}

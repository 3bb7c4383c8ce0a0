package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddyauth/gateway/test/harness"
)

// stallSMTP is an SMTP relay in front of mailpit that lets a message
// through and then keeps the server's answer to it: the server has the
// mail, the sender waits for a "250" that never comes. A gateway sending
// through it is caught mid-send, holding its messages' leases, with the
// mail already delivered: the worst moment to die (at-least-once says
// the mail goes again).
type stallSMTP struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	conns   []net.Conn
	stalled []string // Message-IDs delivered whose answer was kept
}

var messageIDRE = regexp.MustCompile(`(?im)^Message-ID:\s*<([^>\r\n]+)>`)

func startStallSMTP(t *testing.T, target string) *stallSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &stallSMTP{ln: ln, target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.relay(c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			_ = c.Close()
		}
	})
	return s
}

func (s *stallSMTP) relay(client net.Conn) {
	server, err := net.Dial("tcp", s.target)
	if err != nil {
		_ = client.Close()
		return
	}
	s.mu.Lock()
	s.conns = append(s.conns, client, server)
	s.mu.Unlock()
	var stalled atomic.Bool
	go func() {
		// Server to client, until the end of the message's data has
		// gone by: from then on the answers are read and dropped.
		buf := make([]byte, 4096)
		for {
			n, err := server.Read(buf)
			if n > 0 && !stalled.Load() {
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	var seen bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			seen.Write(buf[:n])
			// "\r\n.\r\n" ends DATA; no command before it contains it.
			if !stalled.Load() && bytes.Contains(seen.Bytes(), []byte("\r\n.\r\n")) {
				stalled.Store(true)
				id := ""
				if m := messageIDRE.FindSubmatch(seen.Bytes()); m != nil {
					id = string(m[1])
				}
				s.mu.Lock()
				s.stalled = append(s.stalled, id)
				s.mu.Unlock()
			}
			if _, werr := server.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	// The sender is gone (killed): so is its connection to the server.
	_ = server.Close()
	_ = client.Close()
}

// Stalled is the Message-IDs of the mails let through with their answer
// kept.
func (s *stallSMTP) Stalled() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.stalled)
}

// Addr is host:port.
func (s *stallSMTP) Addr() string { return s.ln.Addr().String() }

// killOp is one request of the load.
type killOp struct {
	kind     string // login, forgot, invite
	instance int
	email    string
	status   int // 0: no answer (connection cut)
	err      error
	at       time.Time
}

// TestFaultKill9 (issue 14 item 5): three gateways on one PostgreSQL and
// one Redis, with a short outbox lease (`outbox { send_timeout 3s lease
// 6s }`), under logins, password-reset requests (which queue mail) and
// admin invitations (which make accounts and queue mail) spread over the
// three. Instance C sends its mail through a relay that delivers each
// message to mailpit and then keeps the server's answer, so C is caught
// mid-send holding leases when it gets SIGKILL. Then:
//   - the survivors answered every request, before and after the kill;
//   - every answered request's message is in the outbox, every outbox row
//     ends `sent` (none dead) and every one is in mailpit under its
//     Message-ID; the only duplicates are mails C had sent but not marked
//     sent (at-least-once), each at most twice;
//   - C's leased messages are taken over by the survivors once the lease
//     runs out (the time is printed);
//   - no account is half-made: active accounts have a password hash,
//     invited ones none, and each has its invitation message and live
//     invitation link; every answered invitation made its account and its
//     audit record; `caddy auth audit verify` passes;
//   - a session made on C before the kill still works on A.
func TestFaultKill9(t *testing.T) {
	t.Parallel()
	mp := harness.StartMailpit(t)
	relay := startStallSMTP(t, mp.SMTPAddr())
	up := harness.Upstream(t)
	cfg := harness.GatewayConfig{
		Upstream:       harness.UpstreamAddr(up),
		ProtectOptions: []string{"public /health"},
		AppOptions: []string{
			mp.EmailOption(),
			"outbox {", "\tsend_timeout 3s", "\tlease 6s", "}",
			"max_sessions_per_user 1000",
		},
		LogFields: []string{resetTokenLogFilter},
	}
	c := harness.PrepareGateways(t, 3, cfg)
	// C (instance 2) sends through the relay.
	const victim = 2
	vc := &c.Configs[victim]
	vc.AppOptions = slices.Clone(vc.AppOptions)
	vc.AppOptions[slices.Index(vc.AppOptions, mp.EmailOption())] = "email smtp smtp://" + relay.Addr() + " {\n\t\t\tfrom " + harness.MailFrom + "\n\t\t\tplaintext\n\t\t}"
	const nUsers = 6
	pws := make([]string, nUsers)
	pwOf := map[string]string{}
	for i := range nUsers {
		pws[i] = newPassword()
		email := fmt.Sprintf("user%d@example.test", i)
		pwOf[email] = pws[i]
		c.AddUser(email, "", pws[i])
	}
	adminPW := newPassword()
	c.AddUser("root@example.test", "Root", adminPW, "admin")
	c.Start()

	// The administrator signs in with a second factor on A; the session
	// is good on every instance (shared Redis).
	admin := c.Client(0)
	admin.Login("root@example.test", adminPW)
	enrolTOTP(t, admin)
	adminTok := admin.Cookie(cookieName)
	harness.Sensitive(adminTok)

	// A session made on C before the kill.
	onC := c.Client(victim)
	onC.Login("user0@example.test", pws[0])
	cTok := onC.Cookie(cookieName)

	var (
		killed   atomic.Bool
		stop     atomic.Bool
		mu       sync.Mutex
		ops      []killOp
		inviteN  atomic.Int64
		inFlight atomic.Int64 // requests C is answering
		wg       sync.WaitGroup
		jsonHdr  = []string{"Content-Type", "application/json", "Accept", "application/json"}
		workers  = 4
		started  = time.Now()
		clients  = make([][]*harness.Client, workers)
		requests = func(op killOp) (string, string, []string) {
			switch op.kind {
			case "login":
				return "/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, op.email, pwOf[op.email]), jsonHdr
			case "forgot":
				return "/auth/forgot-password", fmt.Sprintf(`{"email":%q}`, op.email), jsonHdr
			default:
				return "/auth/admin/invitations", fmt.Sprintf(`{"email":%q,"name":"Invitee"}`, op.email), append(slices.Clone(jsonHdr), withCookie(adminTok)...)
			}
		}
	)
	for w := range workers {
		for i := range 3 {
			clients[w] = append(clients[w], c.Client(i, harness.Timeout(15*time.Second)))
		}
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; !stop.Load(); k++ {
				op := killOp{kind: []string{"login", "forgot", "invite"}[(w+k)%3], instance: (w + k) % 3}
				if op.instance == victim && killed.Load() {
					op.instance = k % 2 // a load balancer would have marked C down
				}
				switch op.kind {
				case "invite":
					op.email = fmt.Sprintf("invitee%03d@example.test", inviteN.Add(1))
				default:
					op.email = fmt.Sprintf("user%d@example.test", (w*7+k)%nUsers)
				}
				path, body, h := requests(op)
				cl := clients[w][op.instance]
				cl.ClearCookies()
				op.at = time.Now()
				if op.instance == victim {
					inFlight.Add(1)
				}
				if r, err := cl.TryDo(cl.NewRequest(http.MethodPost, path, strings.NewReader(body), h...)); err != nil {
					op.err = err
				} else {
					op.status = r.StatusCode
				}
				if op.instance == victim {
					inFlight.Add(-1)
				}
				mu.Lock()
				ops = append(ops, op)
				mu.Unlock()
			}
		}()
	}

	// Kill C once the load has run a moment, C is caught mid-send and is
	// answering requests.
	time.Sleep(1500 * time.Millisecond)
	if ok, _ := harness.Eventually(10*time.Second, time.Millisecond, func() bool {
		return len(relay.Stalled()) >= 1 && inFlight.Load() > 0
	}); !ok {
		stop.Store(true)
		wg.Wait()
		t.Fatalf("C never got to send a mail through its relay (%d stalled)", len(relay.Stalled()))
	}
	c.Procs[victim].Kill()
	killAt := time.Now()
	killed.Store(true)
	if sig := c.Procs[victim].ExitSignal(); sig != syscall.SIGKILL {
		t.Fatalf("C ended by signal %v, want SIGKILL", sig)
	}
	stalledAtKill := relay.Stalled()

	ctx := context.Background()
	db, err := pgx.Connect(ctx, c.DB.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	// The leases C held: rows still leased a moment after the kill (the
	// survivors settle theirs within milliseconds) whose owner is the
	// one of a mail C had in flight.
	time.Sleep(300 * time.Millisecond)
	var victimOwner string
	for _, mid := range stalledAtKill {
		id := strings.TrimSuffix(mid, ".caddyauth@"+strings.SplitN(harness.MailFrom, "@", 2)[1])
		if err := db.QueryRow(ctx, `SELECT lease_owner FROM outbox WHERE id = $1`, id).Scan(&victimOwner); err == nil && victimOwner != "" {
			break
		}
	}
	if victimOwner == "" {
		t.Fatalf("no outbox row of C's in-flight mails %v is still leased after the kill", stalledAtKill)
	}
	var held []string
	rows, err := db.Query(ctx, `SELECT id FROM outbox WHERE lease_owner = $1 AND status = 'pending'`, victimOwner)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		held = append(held, id)
	}
	rows.Close()

	// The load goes on against A and B a while, then stops.
	time.Sleep(2500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	loadFor := time.Since(started)

	// The survivors answered everything; C only failed by being killed.
	want := map[string]int{"login": http.StatusOK, "forgot": http.StatusAccepted, "invite": http.StatusCreated}
	answered := map[string]int{}
	cut := map[string]int{}
	invited := map[string]bool{}
	for _, op := range ops {
		switch {
		case op.err != nil && op.instance == victim:
			cut[op.kind]++
		case op.err != nil:
			t.Errorf("%s on instance %d at +%s: %v", op.kind, op.instance, op.at.Sub(started).Round(time.Millisecond), op.err)
		case op.status != want[op.kind]:
			t.Errorf("%s %s on instance %d at +%s answered %d, want %d", op.kind, op.email, op.instance, op.at.Sub(started).Round(time.Millisecond), op.status, want[op.kind])
		default:
			answered[op.kind]++
			if op.kind == "invite" {
				invited[op.email] = true
			}
		}
	}
	afterKill := 0
	for _, op := range ops {
		if op.at.After(killAt) && op.err == nil {
			afterKill++
		}
	}
	if afterKill == 0 {
		t.Error("no request was answered after the kill")
	}

	// Every message queued ends sent: C's leased ones once their lease
	// has run out.
	var queued, notSent, dead int
	var lastHeldSent int64
	ok, took := harness.Eventually(30*time.Second, 100*time.Millisecond, func() bool {
		if err := db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status <> 'sent'), count(*) FILTER (WHERE status = 'dead') FROM outbox`).Scan(&queued, &notSent, &dead); err != nil {
			t.Fatal(err)
		}
		return notSent == 0
	})
	if !ok {
		t.Fatalf("%d of %d outbox messages not sent %s after the load (%d dead)", notSent, queued, took, dead)
	}
	if err := db.QueryRow(ctx, `SELECT coalesce(max(updated_at), 0) FROM outbox WHERE id = ANY($1)`, held).Scan(&lastHeldSent); err != nil {
		t.Fatal(err)
	}
	takeover := time.UnixMilli(lastHeldSent).Sub(killAt)
	byKind := map[string]int{}
	rows, err = db.Query(ctx, `SELECT kind, count(*) FROM outbox GROUP BY kind`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		byKind[k] = n
	}
	rows.Close()
	// Answered means durable: each answered request's mail is a row.
	if byKind["password_reset"] < answered["forgot"] || byKind["invitation"] < answered["invite"] {
		t.Errorf("outbox holds %v, fewer than the answered requests (%d forgot-password, %d invitations)", byKind, answered["forgot"], answered["invite"])
	}
	if takeover < 0 || takeover > 6*time.Second+5*time.Second {
		t.Errorf("C's %d leased messages were sent %s after the kill, want within lease (6s) + poll", len(held), takeover)
	}

	// Every row is in mailpit under its Message-ID; duplicates only of
	// mails C had in flight.
	domain := strings.SplitN(harness.MailFrom, "@", 2)[1]
	var ids []string
	rows, err = db.Query(ctx, `SELECT id FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id+".caddyauth@"+domain)
	}
	rows.Close()
	count := map[string]int{}
	var mails []harness.Mail
	ok, _ = harness.Eventually(15*time.Second, 200*time.Millisecond, func() bool {
		mails, err = mp.Messages()
		if err != nil {
			return false
		}
		count = map[string]int{}
		for _, m := range mails {
			count[m.MessageID]++
		}
		for _, id := range ids {
			if count[id] == 0 {
				return false
			}
		}
		return true
	})
	if !ok {
		var missing []string
		for _, id := range ids {
			if count[id] == 0 {
				missing = append(missing, id)
			}
		}
		t.Fatalf("%d of %d queued messages never reached mailpit: %v", len(missing), len(ids), missing)
	}
	time.Sleep(time.Second) // a late duplicate would show
	if mails, err = mp.Messages(); err != nil {
		t.Fatal(err)
	}
	if len(mails) >= 500 {
		t.Fatalf("mailpit lists %d messages: the listing limit (500) may hide some; lower the load", len(mails))
	}
	count = map[string]int{}
	for _, m := range mails {
		count[m.MessageID]++
	}
	dups := 0
	for mid, n := range count {
		if !slices.Contains(ids, mid) {
			t.Errorf("mailpit has a mail with Message-ID %q that is no outbox row", mid)
		}
		if n > 1 {
			dups += n - 1
			if n > 2 || !slices.Contains(stalledAtKill, mid) {
				t.Errorf("Message-ID %s delivered %d times; only a mail C had in flight at the kill may come twice", mid, n)
			}
		}
	}

	// No half-made account.
	for _, q := range []struct{ what, sql string }{
		{"accounts in another status", `SELECT email FROM users WHERE status NOT IN ('active', 'invited')`},
		{"active accounts without a password hash", `SELECT email FROM users WHERE status = 'active' AND password_hash = ''`},
		{"invited accounts with a password hash", `SELECT email FROM users WHERE status = 'invited' AND password_hash <> ''`},
		{"invited accounts without their invitation message", `SELECT email FROM users u WHERE status = 'invited' AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.user_id = u.id AND o.kind = 'invitation')`},
		{"invited accounts without a live invitation link", `SELECT email FROM users u WHERE status = 'invited' AND NOT EXISTS (SELECT 1 FROM one_time_tokens g WHERE g.user_id = u.id AND g.purpose = 'invitation' AND g.expires_at > $1)`},
	} {
		var args []any
		if strings.Contains(q.sql, "$1") {
			args = append(args, time.Now().UnixMilli())
		}
		rows, err := db.Query(ctx, q.sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		var bad []string
		for rows.Next() {
			var e string
			if err := rows.Scan(&e); err != nil {
				t.Fatal(err)
			}
			bad = append(bad, e)
		}
		rows.Close()
		if len(bad) > 0 {
			t.Errorf("%s after the kill: %v", q.what, bad)
		}
	}
	var accounts, invitedRows int
	if err := db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 'invited') FROM users`).Scan(&accounts, &invitedRows); err != nil {
		t.Fatal(err)
	}
	recorded := map[string]bool{}
	rows, err = db.Query(ctx, `SELECT email FROM audit_log WHERE type = 'user.invited'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			t.Fatal(err)
		}
		recorded[e] = true
	}
	rows.Close()
	// An invitation cut by the kill after its transaction committed has
	// its account, link and message but may lack its audit record (the
	// record is written after the commit, as for every account change):
	// counted, not refused, as no one was told it succeeded.
	unrecorded := 0
	rows, err = db.Query(ctx, `SELECT email FROM users WHERE status = 'invited'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			t.Fatal(err)
		}
		if !recorded[e] {
			unrecorded++
		}
	}
	rows.Close()
	var invitedEmails []string
	for e := range invited {
		invitedEmails = append(invitedEmails, e)
	}
	sort.Strings(invitedEmails)
	for _, e := range invitedEmails {
		var status string
		if err := db.QueryRow(ctx, `SELECT status FROM users WHERE email = $1`, e).Scan(&status); err != nil || status != "invited" {
			t.Errorf("invitation of %s was answered 201 but the account is %q (%v)", e, status, err)
		}
		if !recorded[e] {
			t.Errorf("invitation of %s was answered 201 but has no user.invited audit record", e)
		}
	}
	out, errOut, code := c.CLI("", "auth", "audit", "verify")
	if code != 0 || !strings.HasPrefix(out, "ok: ") {
		t.Errorf("audit verify after the kill: exit %d\n%s%s", code, out, errOut)
	}

	// C's session lives on in the shared store.
	expectStatus(t, c.Client(0).Get("/app", hdr(api, withCookie(cTok))...), http.StatusOK)

	t.Logf("load %s, %d requests (%d logins, %d forgot-password, %d invitations answered; cut by the kill on C: %v; %d answered after it)",
		loadFor.Round(time.Millisecond), len(ops), answered["login"], answered["forgot"], answered["invite"], cut, afterKill)
	t.Logf("C killed (SIGKILL) %s after the load began, mid-send with %d mails delivered but unanswered and %d leased messages",
		killAt.Sub(started).Round(time.Millisecond), len(stalledAtKill), len(held))
	t.Logf("outbox: %d messages queued (%v), %d sent, %d dead; mailpit: %d mails, %d distinct Message-IDs, %d duplicates (at-least-once: C's in-flight mails)",
		queued, byKind, queued-notSent, dead, len(mails), len(count), dups)
	t.Logf("takeover: C's leased messages all sent %s after the kill (lease 6s)", takeover.Round(time.Millisecond))
	t.Logf("accounts: %d (%d invited, %d of them cut by the kill before their audit record); audit verify: %s", accounts, invitedRows, unrecorded, strings.TrimSpace(out))
}

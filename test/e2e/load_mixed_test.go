package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddyauth/gateway/test/harness"
)

// TestLoadMixed30s is the mixed load of issue 14 item 6: three gateway
// processes on one fresh PostgreSQL database and one Redis, mailpit for
// mail, and a closed-loop generator spread over the three: password
// logins (about 1 per 100 protected requests), protected GETs, logouts,
// TOTP sign-ins and forgot-password mails. It fails on any 5xx or
// transport error, on a mail queued in the outbox that mailpit did not
// receive, and on RSS growth (end RSS > 2x start, or a monotone rise over
// every sample window; see docs/benchmarks.md "Mixed load and soak").
//
// CADDYAUTH_LOAD_SECONDS (default 30) sets the duration: the soak of
// `SOAK=600 SCENARIO=mixed scripts/bench.sh` is this test at 600 s.
func TestLoadMixed30s(t *testing.T) {
	secs := 30
	if v := os.Getenv("CADDYAUTH_LOAD_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 3600 {
			t.Fatalf("CADDYAUTH_LOAD_SECONDS=%q: want 5..3600", v)
		}
		secs = n
	}
	if _, err := exec.LookPath("oathtool"); err != nil {
		t.Fatal("oathtool is needed for the TOTP sign-ins (apt-get install oathtool)")
	}
	const (
		nUsers    = 12  // password users, one per login worker
		nMFA      = 3   // TOTP users
		nMailUser = 20  // forgot-password cycles over them
		perLogin  = 100 // protected requests per login
	)
	mp := harness.StartMailpit(t)
	pws := make([]string, nUsers)
	mfaPW := make([]string, nMFA)
	c := multi(t, func(cfg *harness.GatewayConfig) {
		cfg.AppOptions = append(cfg.AppOptions, mp.EmailOption())
	}, func(c *harness.Gateways) {
		for i := range nUsers {
			pws[i] = newPassword()
			c.AddUser(fmt.Sprintf("load%02d@example.test", i), "", pws[i])
		}
		for i := range nMFA {
			mfaPW[i] = newPassword()
			c.AddUser(fmt.Sprintf("mfa%02d@example.test", i), "", mfaPW[i])
		}
		for i := range nMailUser {
			c.AddUser(fmt.Sprintf("mail%03d@example.test", i), "", newPassword())
		}
	})
	pids := make([]int, len(c.Procs))
	for i, p := range c.Procs {
		pids[i] = pidOfConfig(t, p.ConfigPath())
	}

	// TOTP enrolment of the MFA users (before the clock starts).
	secrets := make([]string, nMFA)
	lastStep := make([]int64, nMFA)
	for i := range nMFA {
		cl := c.Client(i % 3)
		expectStatus(t, cl.Login(fmt.Sprintf("mfa%02d@example.test", i), mfaPW[i]), http.StatusOK)
		var at time.Time
		secrets[i], at, _ = enrolTOTP(t, cl)
		lastStep[i] = at.Unix() / 30
	}

	var (
		ok, n5xx, nOther, nErr atomic.Int64
		logins, logouts, mfas  atomic.Int64
		mailsQueued            atomic.Int64
		latMu                  sync.Mutex
		lats                   []time.Duration
		firstBad               atomic.Value
	)
	bad := func(format string, args ...any) {
		firstBad.CompareAndSwap(nil, fmt.Sprintf(format, args...))
	}
	count := func(what string, r *harness.Response, err error, want int) bool {
		switch {
		case err != nil:
			nErr.Add(1)
			bad("%s: %v", what, err)
			return false
		case r.StatusCode >= 500:
			n5xx.Add(1)
			bad("%s: %d %s", what, r.StatusCode, r.Body)
			return false
		case r.StatusCode != want:
			nOther.Add(1)
			bad("%s: %d, want %d: %s", what, r.StatusCode, want, r.Body)
			return false
		}
		ok.Add(1)
		return true
	}
	jsonReq := func(cl *harness.Client, path string, v any) *http.Request {
		b, _ := json.Marshal(v)
		return cl.NewRequest(http.MethodPost, path, strings.NewReader(string(b)), "Content-Type", "application/json", "Accept", "application/json")
	}

	// RSS samples of every instance.
	sampleEvery := 2 * time.Second
	if secs > 120 {
		sampleEvery = 15 * time.Second
	}
	var rss [][]int64 // [sample][instance] KiB
	sample := func() {
		row := make([]int64, len(pids))
		for i, p := range pids {
			row[i] = rssKiB(p)
		}
		rss = append(rss, row)
	}
	sample()

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	// Login workers: log in, 100 protected GETs, every third cycle a
	// logout (and the next GET must be refused), otherwise drop the cookie.
	for w := range nUsers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := fmt.Sprintf("load%02d@example.test", w)
			gets := []*harness.Client{c.Client(0), c.Client(1), c.Client(2)}
			for cycle := 0; ctx.Err() == nil; cycle++ {
				cl := c.Client((w + cycle) % 3)
				r, err := cl.TryDo(jsonReq(cl, "/auth/login", map[string]string{"email": email, "password": pws[w]}))
				if !count("login", r, err, http.StatusOK) {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				logins.Add(1)
				tok := cl.Cookie(cookieName)
				for i := 0; i < perLogin && ctx.Err() == nil; i++ {
					other := gets[(w+cycle+i)%3] // spread the GETs over the three
					req := other.NewRequest(http.MethodGet, "/app", nil, "Accept", "application/json", "Cookie", cookieName+"="+tok)
					t0 := time.Now()
					r, err := other.TryDo(req)
					d := time.Since(t0)
					if count("GET /app", r, err, http.StatusOK) {
						latMu.Lock()
						lats = append(lats, d)
						latMu.Unlock()
					}
				}
				if cycle%3 == 0 && ctx.Err() == nil {
					r, err := cl.TryDo(jsonReq(cl, "/auth/logout", map[string]string{}))
					if count("logout", r, err, http.StatusOK) {
						logouts.Add(1)
						// The revocation reaches the other instances (pub/sub): allow 2 s on a loaded machine.
						other := gets[(w+cycle+1)%3]
						deadline := time.Now().Add(2 * time.Second)
						for {
							r, err := other.TryDo(other.NewRequest(http.MethodGet, "/app", nil, "Accept", "application/json", "Cookie", cookieName+"="+tok))
							if err == nil && r.StatusCode == http.StatusUnauthorized {
								ok.Add(1)
								break
							}
							if err != nil || r.StatusCode >= 500 || time.Now().After(deadline) {
								count("GET /app after logout", r, err, http.StatusUnauthorized)
								break
							}
							time.Sleep(50 * time.Millisecond)
						}
					}
				}
			}
		}()
	}
	// TOTP sign-ins: each MFA user once per new 30 s step (a code is
	// single-use), round robin over the instances.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; ctx.Err() == nil; k++ {
			for i := range nMFA {
				step := time.Now().Unix() / 30
				if step <= lastStep[i] || ctx.Err() != nil {
					continue
				}
				cl := c.Client((i + k) % 3)
				r, err := cl.TryDo(jsonReq(cl, "/auth/login", map[string]string{"email": fmt.Sprintf("mfa%02d@example.test", i), "password": mfaPW[i]}))
				if !count("mfa login", r, err, http.StatusOK) {
					continue
				}
				code, cerr := totpAt(secrets[i], time.Unix(step*30, 0))
				if cerr != nil {
					bad("oathtool: %v", cerr)
					continue
				}
				lastStep[i] = step
				r, err = cl.TryDo(jsonReq(cl, "/auth/mfa/challenge", map[string]string{"method": "totp", "code": code}))
				if count("mfa challenge", r, err, http.StatusOK) {
					mfas.Add(1)
					r, err = cl.TryDo(cl.NewRequest(http.MethodGet, "/app", nil, "Accept", "application/json"))
					count("GET /app after mfa", r, err, http.StatusOK)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	// Mail: a forgot-password for a distinct user every 1.5 s.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; ctx.Err() == nil; k++ {
			cl := c.Client(k % 3)
			r, err := cl.TryDo(jsonReq(cl, "/auth/forgot-password", map[string]string{"email": fmt.Sprintf("mail%03d@example.test", k%nMailUser)}))
			if count("forgot-password", r, err, http.StatusAccepted) {
				mailsQueued.Add(1)
			}
			select {
			case <-ctx.Done():
			case <-time.After(1500 * time.Millisecond):
			}
		}
	}()
	// RSS sampler.
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(sampleEvery)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				sample()
			}
		}
	}()
	wg.Wait()
	elapsed := time.Since(start)
	sample()

	// Mail accounting: every outbox row must reach mailpit.
	db, err := pgx.Connect(context.Background(), c.DB.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	var outboxRows int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM outbox`).Scan(&outboxRows); err != nil {
		t.Fatal(err)
	}
	var delivered, distinct int
	var dupIDs []string
	harness.Eventually(60*time.Second, 500*time.Millisecond, func() bool {
		ids, err := mailpitIDs(mp)
		if err != nil {
			return false
		}
		delivered, distinct, dupIDs = 0, len(ids), nil
		for id, n := range ids {
			delivered += n
			if n > 1 {
				dupIDs = append(dupIDs, id)
			}
		}
		return distinct >= outboxRows
	})
	time.Sleep(3 * time.Second) // a late duplicate has time to show
	if ids, err := mailpitIDs(mp); err == nil {
		delivered, distinct, dupIDs = 0, len(ids), nil
		for id, n := range ids {
			delivered += n
			if n > 1 {
				dupIDs = append(dupIDs, id)
			}
		}
	}
	var unsent int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE status <> 'sent'`).Scan(&unsent); err != nil {
		t.Fatal(err)
	}

	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	pct := func(p float64) time.Duration {
		if len(lats) == 0 {
			return 0
		}
		return lats[int(p*float64(len(lats)-1))]
	}
	total := ok.Load() + n5xx.Load() + nOther.Load() + nErr.Load()
	t.Logf("mixed load: %d s, 3 instances, %d requests, %.0f req/s; protected GET p50 %s p99 %s; logins %d (%.1f protected GETs each), TOTP sign-ins %d, logouts %d",
		secs, total, float64(total)/elapsed.Seconds(), pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond),
		logins.Load(), float64(len(lats))/float64(max(logins.Load(), 1)), mfas.Load(), logouts.Load())
	t.Logf("errors: 5xx %d, other unexpected status %d, transport %d", n5xx.Load(), nOther.Load(), nErr.Load())
	lost := outboxRows - distinct
	t.Logf("mail: forgot-password 202s %d, outbox rows %d (unsent %d), mailpit %d messages, %d distinct Message-IDs: lost %d, duplicates %d %v",
		mailsQueued.Load(), outboxRows, unsent, delivered, distinct, lost, delivered-distinct, dupIDs)
	for i := range pids {
		var series []string
		for _, row := range rss {
			series = append(series, strconv.FormatInt(row[i]/1024, 10))
		}
		t.Logf("instance %d RSS MiB: start %d, end %d; samples %s", i, rss[0][i]/1024, rss[len(rss)-1][i]/1024, strings.Join(series, " "))
	}
	if v := firstBad.Load(); v != nil {
		t.Logf("first unexpected answer: %s", v)
	}

	if n5xx.Load() != 0 || nErr.Load() != 0 || nOther.Load() != 0 {
		t.Errorf("%d 5xx, %d transport errors, %d other unexpected answers; want none", n5xx.Load(), nErr.Load(), nOther.Load())
	}
	if logins.Load() == 0 || mfas.Load() == 0 || logouts.Load() == 0 || mailsQueued.Load() == 0 {
		t.Errorf("the mix did not run: logins %d, TOTP %d, logouts %d, mails %d", logins.Load(), mfas.Load(), logouts.Load(), mailsQueued.Load())
	}
	if outboxRows == 0 {
		t.Errorf("%d forgot-password requests accepted but no outbox row", mailsQueued.Load())
	}
	if lost > 0 || unsent > 0 {
		t.Errorf("mail lost: %d outbox rows, %d distinct delivered, %d not sent", outboxRows, distinct, unsent)
	}
	if msg := rssGrowth(rss); msg != "" {
		t.Error(msg)
	}
}

// rssGrowth applies the soak's memory rule to samples[time][instance]
// (KiB): fail if an instance ends above twice its start, or if it rose in
// every one of at least 4 equal windows of the run (monotone trend; the
// first sample is the warm start after enrolment). Empty means fine.
func rssGrowth(samples [][]int64) string {
	if len(samples) < 2 {
		return "fewer than two RSS samples"
	}
	var msgs []string
	for i := range samples[0] {
		first, last := samples[0][i], samples[len(samples)-1][i]
		if first <= 0 || last <= 0 {
			msgs = append(msgs, fmt.Sprintf("instance %d: RSS not readable", i))
			continue
		}
		if last > 2*first {
			msgs = append(msgs, fmt.Sprintf("instance %d: RSS %d KiB at the end > 2 x %d KiB at the start", i, last, first))
		}
		const windows = 4
		if len(samples) >= 2*windows+1 {
			// Window maxima must not rise strictly in every window.
			step := (len(samples) - 1) / windows
			rising := true
			prev := int64(-1)
			for w := range windows + 1 {
				var m int64
				for _, row := range samples[w*step : min(w*step+step, len(samples))] {
					m = max(m, row[i])
				}
				if w > 0 && m <= prev*101/100 { // under 1% up: not rising
					rising = false
				}
				prev = m
			}
			if rising {
				msgs = append(msgs, fmt.Sprintf("instance %d: RSS rose by more than 1%% in every window of the run", i))
			}
		}
	}
	return strings.Join(msgs, "; ")
}

// pidOfConfig finds the process whose command line names the Caddyfile
// path (the harness does not export its processes' ids).
func pidOfConfig(t *testing.T, path string) int {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 1 && strings.Contains(args[1], "run") && contains(args, path) {
			pid, _ := strconv.Atoi(filepath.Base(d))
			return pid
		}
	}
	t.Fatalf("no process runs %s", path)
	return 0
}

// rssKiB reads VmRSS of pid (0 if gone).
func rssKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

// totpAt is oathtool without a *testing.T (called from goroutines).
func totpAt(secret string, at time.Time) (string, error) {
	out, err := exec.Command("oathtool", "--totp", "-b", "-N", "@"+strconv.FormatInt(at.Unix(), 10), secret).Output()
	if err != nil {
		return "", err
	}
	code := strings.TrimSpace(string(out))
	harness.SensitiveCode(code)
	return code, nil
}

// mailpitIDs counts mailpit's messages by Message-ID, paging through all.
func mailpitIDs(mp *harness.Mailpit) (map[string]int, error) {
	ids := map[string]int{}
	cl := &http.Client{Timeout: 10 * time.Second}
	for start := 0; ; start += 500 {
		resp, err := cl.Get(fmt.Sprintf("%s/api/v1/messages?start=%d&limit=500", mp.APIURL(), start))
		if err != nil {
			return nil, err
		}
		var list struct {
			Total    int `json:"total"`
			Messages []struct {
				MessageID string `json:"MessageID"`
			} `json:"messages"`
		}
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		for _, m := range list.Messages {
			ids[m.MessageID]++
		}
		if len(list.Messages) < 500 {
			return ids, nil
		}
	}
}

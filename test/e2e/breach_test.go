package e2e

import (
	"crypto/sha1" //nolint:gosec // the range protocol is keyed on SHA-1
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// rangeServer is a k-anonymity range server in the test process (the
// Pwned Passwords protocol): GET /range/<prefix> answers SUFFIX:COUNT
// lines for the breached passwords, padded with count-0 lines that
// include the suffixes of the decoys (fresh passwords the gateway must
// accept, so a count-0 line that matches is proven ignored). It records
// every request.
type rangeServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []string // path and Add-Padding value
}

func sha1Hex(pw string) string {
	s := sha1.Sum([]byte(pw)) //nolint:gosec // protocol-mandated
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

func startRangeServer(t *testing.T, breached, decoys []string) *rangeServer {
	t.Helper()
	rs := &rangeServer{}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		rs.reqs = append(rs.reqs, r.URL.RequestURI()+" padding="+r.Header.Get("Add-Padding"))
		rs.mu.Unlock()
		prefix, ok := strings.CutPrefix(r.URL.Path, "/range/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		for i, pw := range breached {
			if h := sha1Hex(pw); h[:5] == prefix {
				_, _ = fmt.Fprintf(w, "%s:%d\r\n", strings.ToLower(h[5:]), 1000+i)
			}
		}
		if r.Header.Get("Add-Padding") == "true" {
			for _, pw := range decoys {
				if h := sha1Hex(pw); h[:5] == prefix {
					_, _ = fmt.Fprintf(w, "%s:0\r\n", h[5:])
				}
			}
			for i := range 50 {
				_, _ = fmt.Fprintf(w, "%035X:0\r\n", i*7919)
			}
		}
	}))
	t.Cleanup(rs.Close)
	return rs
}

func (rs *rangeServer) requests() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]string(nil), rs.reqs...)
}

// TestBreachCheck (issue 12 item 5): with `password { breach_check <url>
// { on_error refuse } }` pointing at a range server in the test process,
// `user add`, change-password and `user passwd` refuse a breached password
// (400 INVALID_INPUT saying breach; the CLI exits non-zero) and accept a
// fresh one, even when a padding line carries its suffix with count 0; the
// range server only ever saw 5-character prefixes with Add-Padding. With
// the server stopped, change-password answers 503
// BREACH_CHECK_UNAVAILABLE and `user passwd` exits non-zero; under a config
// saying on_error allow the CLI sets the password with a warning. The
// leak scan covers every password of the test.
func TestBreachCheck(t *testing.T) {
	t.Parallel()
	const email = "gwen@example.test"
	first, breached, fresh, fresh2, fresh3 := newPassword(), newPassword(), newPassword(), newPassword(), newPassword()
	rs := startRangeServer(t, []string{breached}, []string{first, fresh, fresh2, fresh3})
	breachLines := func(on string) []string {
		return []string{"password {", "\tbreach_check " + rs.URL + " {", "\t\ttimeout 1s", "\t\ton_error " + on, "\t}", "}"}
	}
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, breachLines("refuse")...)
	})
	g.addUser(email, "Gwen Example", first)

	t.Run("user add refuses a breached password", func(t *testing.T) {
		out, errOut, code := g.cli(breached, "auth", "user", "add", "--config", g.cfgPath, "--email", "hal@example.test", "--password-stdin")
		if code == 0 || !strings.Contains(errOut, "data breach") {
			t.Fatalf("user add with a breached password: exit %d\n%s%s", code, out, errOut)
		}
	})

	g.start()
	c := g.client()
	c.Login(email, first)
	change := func(current, next string) *harness.Response {
		return c.PostJSON("/auth/change-password", map[string]any{"current_password": current, "new_password": next})
	}

	t.Run("change-password refuses a breached password", func(t *testing.T) {
		r := change(first, breached)
		expectError(t, r, http.StatusBadRequest, "INVALID_INPUT")
		if msg, _ := r.JSON()["message"].(string); !strings.Contains(msg, "breach") {
			t.Fatalf("message %q does not say breach", msg)
		}
		expectStatus(t, c.Get("/app", api...), http.StatusOK)
		g.client().Login(email, first)
	})
	if t.Failed() {
		t.FailNow()
	}
	t.Run("change-password accepts a fresh one", func(t *testing.T) {
		expectStatus(t, change(first, fresh), http.StatusOK)
		g.client().Login(email, fresh)
	})
	t.Run("user passwd refuses a breached password and accepts a fresh one", func(t *testing.T) {
		out, errOut, code := g.cli(breached+"\n", "auth", "user", "passwd", email, "--password-stdin", "--config", g.cfgPath)
		if code == 0 || !strings.Contains(errOut, "data breach") {
			t.Fatalf("user passwd with a breached password: exit %d\n%s%s", code, out, errOut)
		}
		t.Logf("user passwd, breached: exit %d: %s", code, lastLine(errOut))
		g.client().Login(email, fresh)
		if out, errOut, code := g.cli(fresh2+"\n", "auth", "user", "passwd", email, "--password-stdin", "--config", g.cfgPath); code != 0 {
			t.Fatalf("user passwd with a fresh password: exit %d\n%s%s", code, out, errOut)
		}
		g.client().Login(email, fresh2)
	})

	t.Run("only 5-character prefixes left, with padding asked", func(t *testing.T) {
		reqs := rs.requests()
		// add (first), add (breached), change x2, passwd x2.
		if len(reqs) < 6 {
			t.Fatalf("%d lookups, want at least 6: %q", len(reqs), reqs)
		}
		for _, r := range reqs {
			path, padding, _ := strings.Cut(r, " ")
			p, ok := strings.CutPrefix(path, "/range/")
			if _, err := hex.DecodeString(p + "0"); !ok || len(p) != 5 || strings.ToUpper(p) != p || err != nil || padding != "padding=true" {
				t.Errorf("the range server was sent %q", r)
			}
		}
	})

	rs.Close()
	c.Login(email, fresh2)
	t.Run("on_error refuse: change-password answers 503 with the server down", func(t *testing.T) {
		expectError(t, change(fresh2, fresh3), http.StatusServiceUnavailable, "BREACH_CHECK_UNAVAILABLE")
		g.client().Login(email, fresh2)
		logs := g.caddy.Logs()
		if !strings.Contains(logs, "breached-password check unavailable") {
			t.Fatal("no warning in the log for the failed lookup")
		}
		h := sha1Hex(fresh3)
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, "breached-password check") && (strings.Contains(strings.ToUpper(line), h[5:]) || strings.Contains(line, h[:5]) || strings.Contains(line, "/range/")) {
				t.Fatalf("the warning names the hash or the path: %s", line)
			}
		}
	})
	t.Run("on_error refuse: user passwd exits non-zero with the server down", func(t *testing.T) {
		out, errOut, code := g.cli(fresh3+"\n", "auth", "user", "passwd", email, "--password-stdin", "--config", g.cfgPath)
		if code == 0 || !strings.Contains(errOut, "on_error is refuse") {
			t.Fatalf("user passwd with the range server down: exit %d\n%s%s", code, out, errOut)
		}
		t.Logf("user passwd, server down, refuse: exit %d: %s", code, lastLine(errOut))
		g.client().Login(email, fresh2)
	})
	t.Run("on_error allow: user passwd sets it with a warning", func(t *testing.T) {
		cfg := g.cfg
		cfg.AppOptions = append(append([]string(nil), g.cfg.AppOptions[:len(g.cfg.AppOptions)-6]...), breachLines("allow")...)
		path := harness.WriteCaddyfile(t, cfg.Caddyfile(t))
		out, errOut, code := g.cli(fresh3+"\n", "auth", "user", "passwd", email, "--password-stdin", "--config", path)
		if code != 0 || !strings.Contains(errOut, "breached-password check could not be done") {
			t.Fatalf("user passwd, on_error allow, server down: exit %d\n%s%s", code, out, errOut)
		}
		t.Logf("user passwd, server down, allow: %s", lastLine(errOut))
		g.client().Login(email, fresh3)
	})
}

// lastLine is the last non-empty line of s (the CLI's message after
// Caddy's own log lines).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

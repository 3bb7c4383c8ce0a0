package harness

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Caddy is a running `caddy run` process.
type Caddy struct {
	t    testing.TB
	cmd  *exec.Cmd
	done chan struct{}
	logs *lockedBuffer
	path string
	// URL is the first site address of the Caddyfile, e.g.
	// https://localhost:41234 (no trailing slash).
	URL string

	exitCode int
}

var siteAddrRE = regexp.MustCompile(`(?m)^\s*((?:https?://)?[A-Za-z0-9.\-]+:\d+)\s*\{`)

// StartCaddy writes caddyfile to a temporary file and runs
// `bin run --config <file> --adapter caddyfile` in the test's home (env
// entries are added last, so they can override). It captures stdout and
// stderr, waits until the first site address of the file answers, and
// kills the process at cleanup. The Caddyfile must set a free admin port
// (see GatewayConfig) so that parallel instances do not collide.
func StartCaddy(t testing.TB, bin, caddyfile string, env ...string) *Caddy {
	t.Helper()
	c := launchCaddy(t, bin, caddyfile, env)
	t.Cleanup(func() {
		c.Stop()
		recordOutput(t, "caddy "+c.URL, c.Logs())
		AssertNoLeaks(t, "caddy log ("+c.URL+")", c.Logs())
		if t.Failed() {
			t.Logf("caddy log (%s):\n%s", c.URL, tail(c.Logs(), 60))
		}
	})
	if err := c.waitReady(20 * time.Second); err != nil {
		t.Fatalf("harness: caddy did not start: %v\nlog:\n%s", err, c.Logs())
	}
	return c
}

func launchCaddy(t testing.TB, bin, caddyfile string, env []string) *Caddy {
	t.Helper()
	path := WriteCaddyfile(t, caddyfile)
	c := &Caddy{t: t, logs: &lockedBuffer{}, path: path, done: make(chan struct{}), exitCode: -1}
	if m := siteAddrRE.FindStringSubmatch(caddyfile); m != nil {
		addr := m[1]
		if !strings.Contains(addr, "://") {
			addr = "http://" + addr
		}
		c.URL = addr
	}
	c.cmd = exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	c.cmd.Env = processEnv(t, env)
	c.cmd.Dir = filepath.Dir(path)
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("harness: starting caddy: %v", err)
	}
	go func() {
		err := c.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
			c.exitCode = 0
		case errors.As(err, &ee):
			c.exitCode = ee.ExitCode()
		}
		close(c.done)
	}()
	return c
}

// RunCaddyExpectFailure runs `bin run` on caddyfile and expects the process
// to exit non-zero within timeout. It returns the output and exit code; a
// process still running at the deadline fails the test.
func RunCaddyExpectFailure(t testing.TB, bin, caddyfile string, timeout time.Duration, env ...string) (logs string, exitCode int) {
	t.Helper()
	c := launchCaddy(t, bin, caddyfile, env)
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.Stop()
		t.Fatalf("caddy kept running for %s with a bad config; log:\n%s", timeout, c.Logs())
	}
	recordOutput(t, "caddy run (expected failure)", c.Logs())
	if c.exitCode == 0 {
		t.Errorf("caddy exited 0 with a bad config; log:\n%s", c.Logs())
	}
	return c.Logs(), c.exitCode
}

// ConfigPath is the Caddyfile the process runs (pass it to `auth ... --config`).
func (c *Caddy) ConfigPath() string { return c.path }

// Logs is everything the process printed so far.
func (c *Caddy) Logs() string { return c.logs.String() }

// Exited reports whether the process has ended.
func (c *Caddy) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Stop ends the process (SIGTERM, then SIGKILL after 3s) and waits.
func (c *Caddy) Stop() {
	if c.Exited() {
		return
	}
	stopProcess(c.cmd, c.done, syscall.SIGTERM, 3*time.Second)
}

// Kill ends the process at once with SIGKILL (and its process group, if it
// was started in one of its own), as a crash or an OOM kill does: no
// shutdown, no lease released, no buffer flushed. It waits for the exit.
func (c *Caddy) Kill() {
	if c.Exited() {
		return
	}
	if a := c.cmd.SysProcAttr; a != nil && a.Setpgid {
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	}
	_ = c.cmd.Process.Kill() // SIGKILL on Unix
	<-c.done
}

// ExitSignal is the signal that ended the process (0 while it runs, or
// if it exited by itself).
func (c *Caddy) ExitSignal() syscall.Signal {
	if !c.Exited() || c.cmd.ProcessState == nil {
		return 0
	}
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

// stopProcess sends sig, waits up to grace for the process to exit (done
// closes when its Wait returns), then kills it and waits.
func stopProcess(cmd *exec.Cmd, done <-chan struct{}, sig os.Signal, grace time.Duration) {
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

func (c *Caddy) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // loopback test server with a throwaway CA
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	defer client.CloseIdleConnections()
	configured := false
	for time.Now().Before(deadline) {
		if c.Exited() {
			return fmt.Errorf("caddy exited with code %d", c.exitCode)
		}
		if !configured {
			configured = strings.Contains(c.Logs(), "serving initial configuration")
		}
		if configured {
			if c.URL == "" {
				return nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+"/", nil)
			resp, err := client.Do(req)
			cancel()
			if err == nil {
				resp.Body.Close()
				return nil
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("not ready within %s", timeout)
}

// LogEntries parses the JSON log lines printed so far (non-JSON lines are
// skipped).
func (c *Caddy) LogEntries() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(c.Logs()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// WaitLog waits until a JSON log entry whose "msg" contains msg appears
// and returns it.
func (c *Caddy) WaitLog(msg string, timeout time.Duration) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, e := range c.LogEntries() {
			if m, _ := e["msg"].(string); strings.Contains(m, msg) {
				return e
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no log entry with msg %q within %s; log:\n%s", msg, timeout, c.Logs())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// GatewayConfig builds a Caddyfile for one protected site in front of an
// upstream. Zero values give: a random secret, sessions in memory, TLS
// (`https://localhost:<free port>` with Caddy's local CA, no trust-store
// install, no HTTP->HTTPS redirect listener), HTTP/1.1 and HTTP/2 only (no
// UDP listener to collide on), a private admin port and an access log.
type GatewayConfig struct {
	Secret string // default: RandomSecret()
	// Sessions is the value of the `sessions` option, e.g.
	// "redis redis://127.0.0.1:6379/0" (default "memory").
	Sessions string
	// SessionCache is the `session_cache` value ("" leaves the default).
	SessionCache string
	// AppOptions are extra lines inside the caddyauth block.
	AppOptions []string
	// ProtectMatcher is an optional matcher token for the directive
	// (`protect /private/* { ... }`).
	ProtectMatcher string
	// ProtectOptions are lines inside the protect block.
	ProtectOptions []string
	// Upstream is the reverse_proxy target (host:port or URL).
	Upstream string
	// Port of the site (default: a free port); AdminPort likewise.
	Port, AdminPort int
	// Plain serves http:// and adds `cookie { insecure }`.
	Plain bool
	// Debug turns on Caddy's debug logging (more output for the leak scan).
	Debug bool
	// SiteExtra are extra lines inside the site block.
	SiteExtra []string
	// ServerOptions are extra lines inside the global `servers` block.
	ServerOptions []string
	// LogFields are `format filter` field rules for the site's access log
	// (e.g. "request>headers>X-Token delete").
	LogFields []string
	// Limits keeps the login rate limits and lockout on. Off by default:
	// most tests log in many times from one address; the limits have
	// their own tests.
	Limits bool
}

// Caddyfile renders the configuration, filling in free ports.
func (g *GatewayConfig) Caddyfile(t testing.TB) string {
	t.Helper()
	if g.Secret == "" {
		g.Secret = RandomSecret()
	}
	if g.Port == 0 {
		g.Port = FreePort(t)
	}
	if g.AdminPort == 0 {
		g.AdminPort = FreePort(t)
	}
	sessions := g.Sessions
	if sessions == "" {
		sessions = "memory"
	}
	var b strings.Builder
	b.WriteString("{\n")
	fmt.Fprintf(&b, "\tadmin 127.0.0.1:%d\n", g.AdminPort)
	if g.Debug {
		b.WriteString("\tdebug\n")
	}
	b.WriteString("\tlocal_certs\n\tskip_install_trust\n\tauto_https disable_redirects\n")
	b.WriteString("\tservers {\n\t\tprotocols h1 h2\n")
	for _, l := range g.ServerOptions {
		fmt.Fprintf(&b, "\t\t%s\n", l)
	}
	b.WriteString("\t}\n")
	b.WriteString("\tcaddyauth {\n")
	fmt.Fprintf(&b, "\t\tsecret %s\n", g.Secret)
	fmt.Fprintf(&b, "\t\tsessions %s\n", sessions)
	if g.SessionCache != "" {
		fmt.Fprintf(&b, "\t\tsession_cache %s\n", g.SessionCache)
	}
	if g.Plain {
		b.WriteString("\t\tcookie {\n\t\t\tinsecure\n\t\t}\n")
	}
	if !g.Limits {
		b.WriteString("\t\trate_limit off\n\t\tlockout off\n")
	}
	for _, l := range g.AppOptions {
		fmt.Fprintf(&b, "\t\t%s\n", l)
	}
	b.WriteString("\t}\n}\n\n")
	fmt.Fprintf(&b, "%s {\n", g.SiteURL())
	protect := "protect"
	if g.ProtectMatcher != "" {
		protect += " " + g.ProtectMatcher
	}
	if len(g.ProtectOptions) == 0 {
		fmt.Fprintf(&b, "\t%s\n", protect)
	} else {
		fmt.Fprintf(&b, "\t%s {\n", protect)
		for _, l := range g.ProtectOptions {
			fmt.Fprintf(&b, "\t\t%s\n", l)
		}
		b.WriteString("\t}\n")
	}
	if len(g.LogFields) == 0 {
		b.WriteString("\tlog\n")
	} else {
		b.WriteString("\tlog {\n\t\tformat filter {\n\t\t\twrap json\n\t\t\tfields {\n")
		for _, l := range g.LogFields {
			fmt.Fprintf(&b, "\t\t\t\t%s\n", l)
		}
		b.WriteString("\t\t\t}\n\t\t}\n\t}\n")
	}
	for _, l := range g.SiteExtra {
		fmt.Fprintf(&b, "\t%s\n", l)
	}
	if g.Upstream != "" {
		fmt.Fprintf(&b, "\treverse_proxy %s\n", g.Upstream)
	}
	b.WriteString("}\n")
	return b.String()
}

// SiteURL is the site address (valid after Caddyfile filled in the port).
func (g *GatewayConfig) SiteURL() string {
	scheme := "https"
	if g.Plain {
		scheme = "http"
	}
	return scheme + "://localhost:" + strconv.Itoa(g.Port)
}

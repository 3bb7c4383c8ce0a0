// Package harness runs the real gateway for end-to-end tests: it builds the
// Caddy binary with the caddyauth module, starts private redis-server and
// Caddy processes on free loopback ports, an echo upstream, and an HTTP
// client that does not follow redirects. Every process gets a per-test HOME,
// so Caddy's data directory (certificates, the default SQLite user
// database) is private to the test.
//
// Test packages should route TestMain through Main: it removes the built
// binary and the per-test homes at the end and runs the suite-wide leak scan
// (no password or session cookie value may appear in any captured output).
//
//	func TestMain(m *testing.M) { harness.Main(m) }
package harness

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// BinaryEnv names an environment variable that, when set, points at an
// already built binary and skips the build (handy while iterating).
const BinaryEnv = "CADDYAUTH_E2E_BINARY"

var (
	suiteOnce sync.Once
	suiteDir  string
	suiteErr  error

	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// suiteTemp is one temporary directory for the whole test process; Main
// removes it.
func suiteTemp(t testing.TB) string {
	t.Helper()
	suiteOnce.Do(func() {
		suiteDir, suiteErr = os.MkdirTemp("", "caddyauth-e2e-")
	})
	if suiteErr != nil {
		t.Fatalf("harness: temp dir: %v", suiteErr)
	}
	return suiteDir
}

// Main runs the tests, then the suite-wide leak scan, removes the
// harness's temporary files and exits.
func Main(m *testing.M) {
	code := m.Run()
	if report := scanAllOutputs(); report != "" {
		fmt.Fprintln(os.Stderr, "FAIL: harness leak scan:\n"+report)
		if code == 0 {
			code = 1
		}
	} else if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "harness: leak scan: %d outputs checked against %d sensitive values, none found\n", ScannedOutputs(), SensitiveCount())
	}
	if suiteDir != "" {
		_ = os.RemoveAll(suiteDir)
	}
	os.Exit(code)
}

// ModuleRoot walks up from the working directory to the directory holding
// go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("harness: no go.mod above the working directory")
		}
		dir = parent
	}
}

// BuildBinary builds ./cmd/xcaddy-build once per test process and returns
// the binary's path. Set CADDYAUTH_E2E_BINARY to use a prebuilt one.
func BuildBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(BinaryEnv); p != "" {
		return p
	}
	root := ModuleRoot(t)
	dir := suiteTemp(t)
	buildOnce.Do(func() {
		// `go test` puts its own toolchain's bin first on PATH.
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("go not on PATH: %v", err)
			return
		}
		out := filepath.Join(dir, "caddy")
		cmd := exec.Command(goBin, "build", "-o", out, "./cmd/xcaddy-build")
		cmd.Dir = root
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		start := time.Now()
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/xcaddy-build: %v\n%s", err, buf.String())
			return
		}
		buildPath = out
		fmt.Fprintf(os.Stderr, "harness: built %s in %s\n", out, time.Since(start).Round(100*time.Millisecond))
	})
	if buildErr != nil {
		t.Fatalf("harness: %v", buildErr)
	}
	return buildPath
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	// The kernel may hand the port just closed to the next Listen: two
	// calls in a row (a site port, then its admin port) then name the same
	// port and the process cannot start. No port is handed out twice.
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("harness: free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !portsGiven[port] {
			portsGiven[port] = true
			return port
		}
	}
	t.Fatal("harness: no free port that was not handed out already")
	return 0
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// RandomSecret returns a fresh 43-character master secret (256 random
// bits, base64url), the shape `caddy auth secret generate` prints.
func RandomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

var homes sync.Map // root test name -> home dir

// Home returns the private HOME of the current top-level test: every Caddy
// process and CLI call of a test (and of its subtests) share it, so they
// see the same data directory and default SQLite database.
func Home(t testing.TB) string {
	t.Helper()
	root, _, _ := strings.Cut(t.Name(), "/")
	if v, ok := homes.Load(root); ok {
		return v.(string)
	}
	dir, err := os.MkdirTemp(suiteTemp(t), "home-"+sanitize(root)+"-")
	if err != nil {
		t.Fatalf("harness: home: %v", err)
	}
	v, _ := homes.LoadOrStore(root, dir)
	return v.(string)
}

// HomeEnv is the environment that points HOME and the XDG directories
// (Caddy's data and config directories) at dir.
func HomeEnv(dir string) []string {
	return []string{
		"HOME=" + dir,
		"XDG_DATA_HOME=" + filepath.Join(dir, ".local", "share"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(dir, ".cache"),
	}
}

// processEnv is the environment of a child process: ours, then the test's
// home, then what Setenv gave the test, then extra (later entries win).
func processEnv(t testing.TB, extra []string) []string {
	env := os.Environ()
	env = append(env, HomeEnv(Home(t))...)
	env = append(env, setenvOf(t)...)
	return append(env, extra...)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

// WriteCaddyfile writes text to a new file named Caddyfile in a fresh
// temporary directory and returns its path (the CLI infers the caddyfile
// adapter from that name).
func WriteCaddyfile(t testing.TB, text string) string {
	t.Helper()
	dir, err := os.MkdirTemp(suiteTemp(t), "cfg-")
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	p := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatalf("harness: %v", err)
	}
	return p
}

// RunCLI runs bin with args (for `auth ...` and `adapt`), stdin as standard
// input, in the test's home. Its output is recorded for the leak scan.
func RunCLI(t testing.TB, bin, stdin string, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	return RunCLIEnv(t, bin, stdin, nil, args...)
}

// RunCLIEnv is RunCLI with extra environment entries.
func RunCLIEnv(t testing.TB, bin, stdin string, env []string, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	return runCLI(t, bin, stdin, env, true, args...)
}

// RunCLISecretOut is RunCLI for a command whose standard output is a
// secret made for the caller (`apikey create` prints the key once): only
// its standard error joins the leak scan. Callers register the printed
// secret with Sensitive, so the scan catches it anywhere else.
func RunCLISecretOut(t testing.TB, bin, stdin string, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	return runCLI(t, bin, stdin, nil, false, args...)
}

func runCLI(t testing.TB, bin, stdin string, env []string, scanStdout bool, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = processEnv(t, env)
	cmd.Dir = Home(t)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("harness: %s: %v", bin, err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("harness: %s %s: timed out after 60s\nstdout:\n%s\nstderr:\n%s", bin, strings.Join(args, " "), o.String(), e.String())
	}
	exitCode = 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("harness: %s: %v", bin, err)
		}
		exitCode = ee.ExitCode()
	}
	stdout, stderr = o.String(), e.String()
	if scanStdout {
		recordOutput(t, "CLI "+strings.Join(args, " "), stdout+"\n"+stderr)
	} else {
		recordOutput(t, "CLI "+strings.Join(args, " ")+" (stderr)", stderr)
	}
	return stdout, stderr, exitCode
}

// AddUser creates a user with `auth user add` against the Caddyfile at
// cfgPath and returns its id. The password is registered as sensitive.
func AddUser(t testing.TB, bin, cfgPath, email, name, password string, groups ...string) string {
	t.Helper()
	Sensitive(password)
	args := []string{"auth", "user", "add", "--config", cfgPath, "--email", email, "--password-stdin"}
	if name != "" {
		args = append(args, "--name", name)
	}
	for _, g := range groups {
		args = append(args, "--group", g)
	}
	out, errOut, code := RunCLI(t, bin, password, args...)
	if code != 0 {
		t.Fatalf("harness: auth user add %s: exit %d\n%s%s", email, code, out, errOut)
	}
	// "created user <email> (<id>)"
	i, j := strings.LastIndexByte(out, '('), strings.LastIndexByte(out, ')')
	if i < 0 || j < i {
		t.Fatalf("harness: auth user add: unexpected output %q", out)
	}
	return out[i+1 : j]
}

// lockedBuffer is an io.Writer safe for concurrent writers and readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Eventually polls cond every interval until it returns true or timeout
// passes, and reports whether it succeeded and how long it took.
func Eventually(timeout, interval time.Duration, cond func() bool) (bool, time.Duration) {
	start := time.Now()
	for {
		if cond() {
			return true, time.Since(start)
		}
		if time.Since(start) > timeout {
			return false, time.Since(start)
		}
		time.Sleep(interval)
	}
}

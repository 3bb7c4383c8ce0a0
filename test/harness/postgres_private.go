package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PrivatePostgres is a PostgreSQL server of the test's own (initdb +
// pg_ctl in a temp directory, trust auth, loopback, a free port), for the
// tests that stop and restart the database under a running gateway; the
// shared server of CADDYAUTH_TEST_POSTGRES must never be stopped.
type PrivatePostgres struct {
	t       testing.TB
	bin     string
	dir     string
	port    int
	asUser  []string // runuser prefix when running as root
	running bool
}

// postgresBin finds initdb and pg_ctl: on PATH, else the newest
// /usr/lib/postgresql/*/bin. A test that needs them fails without them
// (scripts/test.sh installs postgresql).
func postgresBin(t testing.TB) string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p)
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	t.Fatal("initdb/pg_ctl not found: install postgresql (scripts/test.sh does)")
	return ""
}

// StartPostgres initialises and starts a private server; it is stopped
// and removed at cleanup. Running as root, the server runs as the
// postgres user (it refuses root).
func StartPostgres(t testing.TB) *PrivatePostgres {
	t.Helper()
	p := &PrivatePostgres{t: t, bin: postgresBin(t), port: FreePort(t)}
	dir, err := os.MkdirTemp("", "caddyauth-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	if os.Getuid() == 0 {
		p.asUser = []string{"runuser", "-u", "postgres", "--"}
		if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown %s: %v: %s", dir, err, out)
		}
	}
	t.Cleanup(func() {
		p.stop("immediate")
		_ = os.RemoveAll(dir)
	})
	p.run(2*time.Minute, filepath.Join(p.bin, "initdb"), "-D", p.data(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
	p.Start()
	return p
}

func (p *PrivatePostgres) data() string { return filepath.Join(p.dir, "data") }

func (p *PrivatePostgres) run(timeout time.Duration, name string, args ...string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	argv := append(append([]string{}, p.asUser...), append([]string{name}, args...)...)
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

// DSN is a connection string for the server's postgres database.
func (p *PrivatePostgres) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Port is the server's TCP port.
func (p *PrivatePostgres) Port() int { return p.port }

// Start starts the (stopped) server on its port and waits until it
// accepts connections.
func (p *PrivatePostgres) Start() {
	p.t.Helper()
	opts := "-c listen_addresses=127.0.0.1 -c port=" + strconv.Itoa(p.port) + " -c unix_socket_directories=" + p.dir + " -c fsync=off"
	p.run(time.Minute, filepath.Join(p.bin, "pg_ctl"), "-D", p.data(), "-l", filepath.Join(p.dir, "log"), "-o", opts, "-w", "-t", "60", "start")
	p.running = true
	ok, _ := Eventually(20*time.Second, 100*time.Millisecond, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, p.DSN())
		if err != nil {
			return false
		}
		_ = c.Close(ctx)
		return true
	})
	if !ok {
		p.t.Fatalf("private PostgreSQL on port %d does not answer", p.port)
	}
}

// Stop stops the server the way a crash or a failover does: immediate
// shutdown, every connection cut.
func (p *PrivatePostgres) Stop() {
	p.t.Helper()
	p.stop("immediate")
}

func (p *PrivatePostgres) stop(mode string) {
	if !p.running {
		return
	}
	argv := append(append([]string{}, p.asUser...), filepath.Join(p.bin, "pg_ctl"), "-D", p.data(), "-m", mode, "-w", "stop")
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		p.t.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	p.running = false
}

package harness

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/pgtest"
)

// ClusterDSNEnv is the environment variable that carries the PostgreSQL
// DSN of a cluster to its processes: the Caddyfile says
// `database postgres {env.CADDYAUTH_CLUSTER_PG_DSN}`, so the DSN (and its
// password) is never written into a config file or printed.
const ClusterDSNEnv = "CADDYAUTH_CLUSTER_PG_DSN"

// SharedPostgres creates a fresh PostgreSQL database for the current test
// on the server pgtest.AdminDSN names, drops it at cleanup (after every
// process that uses it has stopped, as cleanups run last-in first-out),
// and hands its DSN, with a throw-away password registered for the leak
// scan, to every process of the test through ClusterDSNEnv. A server that
// does not answer fails the test.
func SharedPostgres(t testing.TB) *pgtest.Database {
	t.Helper()
	db, err := pgtest.Create(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Drop(); err != nil {
			t.Errorf("harness: drop database %s: %v", db.Name, err)
		}
	})
	u, err := url.Parse(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	// The local test server trusts, so the password is not checked; it
	// is there so that the leak scan proves it never shows in any output.
	pw := "pg-" + RandomSecret()[:20]
	Sensitive(pw)
	u.User = url.UserPassword(u.User.Username(), pw)
	Setenv(t, ClusterDSNEnv, u.String())
	return db
}

// Gateways is n gateway processes of one deployment: the same secret,
// one PostgreSQL database (users, audit, outbox, grants), one Redis
// (sessions, rate limits, pub/sub), each process on its own ports.
type Gateways struct {
	t testing.TB
	// Bin is the gateway binary.
	Bin string
	// DB is the shared database (nil if the config brought its own
	// `database` line).
	DB *pgtest.Database
	// Redis is the shared Redis (nil if cfg.Sessions was given).
	Redis *Redis
	// Configs are the rendered configs, one per instance (ports filled).
	Configs []GatewayConfig
	// Paths are the Caddyfiles, one per instance; pass Paths[0] to the
	// CLI's --config.
	Paths []string
	// Procs are the running processes, in the order of Configs.
	Procs []*Caddy
}

// StartGateways starts n gateway processes of one deployment, all at
// once (as an orchestrator starts replicas), and waits until every one
// answers. cfg is the template: its Secret (default: a fresh one) is
// shared; Port and AdminPort are ignored (each instance gets free ones);
// unless cfg.Sessions is set, sessions go to a fresh private Redis shared
// by all (`sessions redis <url>`); unless cfg.AppOptions already has a
// `database` line, the instances share SharedPostgres(t). Every process
// and CLI call of the test sees the same home.
func StartGateways(t testing.TB, n int, cfg GatewayConfig) *Gateways {
	t.Helper()
	c := PrepareGateways(t, n, cfg)
	c.Start()
	return c
}

// PrepareGateways is StartGateways without the start: the database and
// Redis exist and the configs are written (so users can be added with the
// CLI on Paths[0]), no gateway runs yet. Call Start.
func PrepareGateways(t testing.TB, n int, cfg GatewayConfig) *Gateways {
	t.Helper()
	if n < 1 {
		t.Fatalf("harness: StartGateways(%d)", n)
	}
	c := &Gateways{t: t, Bin: BuildBinary(t)}
	if cfg.Secret == "" {
		cfg.Secret = RandomSecret()
	}
	if cfg.Sessions == "" {
		c.Redis = StartRedis(t)
		cfg.Sessions = "redis " + c.Redis.URL()
	}
	if !hasDatabaseLine(cfg.AppOptions) {
		c.DB = SharedPostgres(t)
		cfg.AppOptions = append(append([]string(nil), cfg.AppOptions...), "database postgres {env."+ClusterDSNEnv+"}")
	}
	for range n {
		ic := cfg
		ic.Port, ic.AdminPort = 0, 0
		text := ic.Caddyfile(t)
		c.Configs = append(c.Configs, ic)
		c.Paths = append(c.Paths, WriteCaddyfile(t, text))
	}
	return c
}

func hasDatabaseLine(lines []string) bool {
	for _, l := range lines {
		if len(l) >= 9 && l[:9] == "database " {
			return true
		}
	}
	return false
}

// Start launches every instance at the same moment and waits until each
// answers; one that does not start fails the test with its log.
func (c *Gateways) Start() {
	c.t.Helper()
	if c.Procs != nil {
		c.t.Fatal("harness: cluster already started")
	}
	t := c.t
	procs := make([]*Caddy, len(c.Configs))
	for i, cfg := range c.Configs {
		// Each instance keeps Caddy's own data (its local CA, certificates)
		// in a directory of its own, as separate machines would: three
		// processes creating one local CA at once race in Caddy's PKI
		// set-up (root.key not found). The gateway's data is in the shared
		// database.
		data := filepath.Join(Home(t), fmt.Sprintf("instance-%d", i), ".local", "share")
		procs[i] = launchCaddy(t, c.Bin, cfg.Caddyfile(t), []string{"XDG_DATA_HOME=" + data})
		p := procs[i]
		t.Cleanup(func() {
			p.Stop()
			recordOutput(t, "caddy "+p.URL, p.Logs())
			AssertNoLeaks(t, "caddy log ("+p.URL+")", p.Logs())
			if t.Failed() {
				t.Logf("caddy log (%s):\n%s", p.URL, tail(p.Logs(), 60))
			}
		})
	}
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.waitReady(60 * time.Second)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("harness: gateway %d did not start: %v\nlog:\n%s", i, err, procs[i].Logs())
		}
	}
	c.Procs = procs
}

// URL is the site address of instance i.
func (c *Gateways) URL(i int) string { return c.Configs[i].SiteURL() }

// Client is a new cookie-jar client for instance i.
func (c *Gateways) Client(i int, opts ...ClientOption) *Client {
	return NewClient(c.t, c.URL(i), opts...)
}

// AddUser creates a user with the CLI (on instance 0's config: the
// database is shared) and returns its id.
func (c *Gateways) AddUser(email, name, password string, groups ...string) string {
	c.t.Helper()
	return AddUser(c.t, c.Bin, c.Paths[0], email, name, password, groups...)
}

// CLI runs `caddy <args...> --config <instance 0's Caddyfile>`.
func (c *Gateways) CLI(stdin string, args ...string) (stdout, stderr string, exitCode int) {
	c.t.Helper()
	return RunCLI(c.t, c.Bin, stdin, append(args, "--config", c.Paths[0])...)
}

// CLISecretOut is CLI for a command that prints a secret for the caller
// on standard output (RunCLISecretOut).
func (c *Gateways) CLISecretOut(args ...string) (stdout, stderr string, exitCode int) {
	c.t.Helper()
	return RunCLISecretOut(c.t, c.Bin, "", append(args, "--config", c.Paths[0])...)
}

// String names the instances, for messages.
func (c *Gateways) String() string {
	s := ""
	for i := range c.Configs {
		s += fmt.Sprintf("[%d] %s ", i, c.URL(i))
	}
	return s
}

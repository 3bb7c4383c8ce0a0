package harness

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name a Sentinel set monitors.
const SentinelMaster = "caddyauth"

// Sentinel is a Sentinel-managed Redis: a master, one replica and three
// sentinels (quorum 2), all private processes on free ports. A master that
// stops answering is judged down after one second.
type Sentinel struct {
	t         testing.TB
	Master    *Redis
	Replica   *Redis
	Sentinels []*Redis
	// Password is the data nodes' requirepass, SentinelPassword the
	// sentinels' ("" for none).
	Password, SentinelPassword string
}

// StartSentinel starts the set and waits until every sentinel knows the
// replica and the other two sentinels, so a failover can happen at once.
// The sentinel binary is redis-sentinel when installed, else
// `redis-server --sentinel` (the same program). Missing binaries fail the
// test.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	return StartSentinelAuth(t, "", "")
}

// StartSentinelAuth is StartSentinel with passwords: password on the data
// nodes (requirepass, and masterauth for replication), sentinelPassword on
// the sentinels. Either may be "".
func StartSentinelAuth(t testing.TB, password, sentinelPassword string) *Sentinel {
	t.Helper()
	bin := redisServer(t)
	s := &Sentinel{t: t, Password: password, SentinelPassword: sentinelPassword}
	node := func(extra ...string) func(port int, dir string) []string {
		return func(port int, dir string) []string {
			args := []string{
				"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
				"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "",
				"--dir", dir,
			}
			if password != "" {
				// masterauth too: a master demoted after a failover must
				// replicate from the new one.
				args = append(args, "--requirepass", password, "--masterauth", password)
			}
			return append(args, extra...)
		}
	}
	s.Master = startRedis(t, bin, node(), nil)
	s.Replica = startRedis(t, bin, node("--replicaof", "127.0.0.1", strconv.Itoa(s.Master.port)), nil)
	waitFor(t, 10*time.Second, "the replica to sync", func() bool {
		info := infoField(s.Replica.Addr(), password, "replication", "master_link_status")
		return info == "up"
	})
	sbin, sargs := bin, []string{"--sentinel"}
	if p, err := exec.LookPath("redis-sentinel"); err == nil {
		sbin, sargs = p, nil
	}
	for i := 0; i < 3; i++ {
		sn := startRedis(t, sbin, func(port int, dir string) []string {
			// Sentinel rewrites its config file: one per process.
			conf := filepath.Join(dir, "sentinel.conf")
			m := SentinelMaster
			body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndaemonize no\nlogfile \"\"\ndir %s\n", port, dir) +
				fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\n", m, s.Master.port) +
				fmt.Sprintf("sentinel down-after-milliseconds %s 1000\n", m) +
				fmt.Sprintf("sentinel failover-timeout %s 5000\n", m) +
				fmt.Sprintf("sentinel parallel-syncs %s 1\n", m)
			if password != "" {
				body += fmt.Sprintf("sentinel auth-pass %s %s\n", m, password)
			}
			if sentinelPassword != "" {
				// Sentinels authenticate to each other with it too.
				body += fmt.Sprintf("requirepass %s\nsentinel sentinel-pass %s\n", sentinelPassword, sentinelPassword)
			}
			if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
				t.Errorf("harness: sentinel config: %v", err)
			}
			return append([]string{conf}, sargs...)
		}, nil)
		s.Sentinels = append(s.Sentinels, sn)
	}
	waitFor(t, 20*time.Second, "the sentinels to find the replica and each other", func() bool {
		for _, sn := range s.Sentinels {
			m := sentinelMaster(sn.Addr(), sentinelPassword)
			if m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				return false
			}
		}
		return true
	})
	return s
}

// Addrs are the sentinels' host:port addresses.
func (s *Sentinel) Addrs() []string {
	var out []string
	for _, sn := range s.Sentinels {
		out = append(out, sn.Addr())
	}
	return out
}

// MasterAddr is the master's address as the first sentinel that answers
// reports it ("" if none does).
func (s *Sentinel) MasterAddr() string {
	for _, sn := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr(), Password: s.SentinelPassword, DialTimeout: time.Second})
		addr, err := c.GetMasterAddrByName(context.Background(), SentinelMaster).Result()
		c.Close()
		if err == nil && len(addr) == 2 {
			return net.JoinHostPort(addr[0], addr[1])
		}
	}
	return ""
}

// Sync waits until the replica has every write the master acknowledged
// (WAIT 1), so a kill of the master loses none of them.
func (s *Sentinel) Sync() {
	s.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Master.Addr(), Password: s.Password})
	defer c.Close()
	n, err := c.Do(context.Background(), "WAIT", 1, 5000).Int()
	if err != nil || n != 1 {
		s.t.Fatalf("harness: WAIT for the replica: %d, %v", n, err)
	}
}

// KillMaster kills the master with SIGKILL and waits until the sentinels
// report the replica as the new master; it returns how long that took.
func (s *Sentinel) KillMaster() time.Duration {
	s.t.Helper()
	old := s.Master.Addr()
	s.Master.Kill()
	start := time.Now()
	waitFor(s.t, 30*time.Second, "the sentinels to promote the replica", func() bool {
		return s.MasterAddr() == s.Replica.Addr() &&
			infoField(s.Replica.Addr(), s.Password, "replication", "role") == "master"
	})
	if s.MasterAddr() == old {
		s.t.Fatal("harness: the old master is still reported")
	}
	return time.Since(start)
}

// Cluster is a three-node Redis Cluster without replicas, the nodes
// private processes on free loopback ports.
type Cluster struct {
	Nodes []*Redis
}

// StartCluster starts three cluster-enabled servers, joins them with
// `redis-cli --cluster create` and waits until every node reports
// cluster_state:ok. Missing binaries fail the test.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := redisServer(t)
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("harness: redis-cli not found in PATH: install redis-tools (apt-get install -y redis-tools)")
	}
	c := &Cluster{}
	// The cluster bus listens on port+10000: that must be free too.
	busFree := func(port int) bool {
		if port+10000 > 65535 {
			return false
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err != nil {
			return false
		}
		l.Close()
		return true
	}
	for i := 0; i < 3; i++ {
		n := startRedis(t, bin, func(port int, dir string) []string {
			return []string{
				"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
				"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "",
				"--dir", dir, "--cluster-enabled", "yes",
				"--cluster-config-file", "nodes-" + strconv.Itoa(port) + ".conf",
				"--cluster-node-timeout", "2000",
			}
		}, busFree)
		c.Nodes = append(c.Nodes, n)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("harness: redis-cli --cluster create: %v\n%s", err, out)
	}
	waitFor(t, 20*time.Second, "the cluster to be ok on every node", func() bool {
		for _, n := range c.Nodes {
			if infoLine(n.Addr(), "", "CLUSTER", "INFO", "cluster_state") != "ok" {
				return false
			}
		}
		return true
	})
	return c
}

// Addrs are the nodes' host:port addresses.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr())
	}
	return out
}

// Kill kills every node with SIGKILL.
func (c *Cluster) Kill() {
	for _, n := range c.Nodes {
		n.Kill()
	}
}

func waitFor(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("harness: timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// infoField is one field of `INFO <section>` on addr ("" on error).
func infoField(addr, password, section, field string) string {
	return infoLine(addr, password, "INFO", section, field)
}

// infoLine runs a command answering "field:value" lines and returns field.
func infoLine(addr, password, cmd, arg, field string) string {
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password, DialTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	text, err := c.Do(context.Background(), cmd, arg).Text()
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && k == field {
			return v
		}
	}
	return ""
}

// sentinelMaster is `SENTINEL MASTER` of the set on one sentinel (nil on
// error).
func sentinelMaster(addr, password string) map[string]string {
	c := redis.NewSentinelClient(&redis.Options{Addr: addr, Password: password, DialTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	m, err := c.Master(context.Background(), SentinelMaster).Result()
	if err != nil {
		return nil
	}
	return m
}

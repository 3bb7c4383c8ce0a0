package harness

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Redis is a private redis-server process without persistence.
type Redis struct {
	t    testing.TB
	bin  string
	port int
	dir  string
	// argv gives the process arguments for a port (nil: a plain server).
	argv func(port int, dir string) []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs *lockedBuffer
}

// StartRedis starts redis-server (from PATH) on a free 127.0.0.1 port with
// persistence off, waits until it answers PING, and stops it at cleanup.
// A missing redis-server fails the test: never a skip.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	return startRedis(t, redisServer(t), nil, nil)
}

// redisServer is the redis-server binary, or fails the test.
func redisServer(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("harness: redis-server not found in PATH: install redis-server (apt-get install -y redis-server)")
	}
	return bin
}

// startRedis starts bin on a free port with argv's arguments (nil: a
// plain server without persistence), portOK vetting each port tried.
func startRedis(t testing.TB, bin string, argv func(port int, dir string) []string, portOK func(port int) bool) *Redis {
	t.Helper()
	r := &Redis{t: t, bin: bin, dir: t.TempDir(), logs: &lockedBuffer{}, argv: argv}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		r.port = FreePort(t)
		for portOK != nil && !portOK(r.port) {
			r.port = FreePort(t)
		}
		if lastErr = r.start(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("harness: %v", lastErr)
	}
	t.Cleanup(r.stop)
	return r
}

// Addr is host:port.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// URL is the redis:// URL of database 0.
func (r *Redis) URL() string { return "redis://" + r.Addr() + "/0" }

// Logs is what redis-server printed.
func (r *Redis) Logs() string { return r.logs.String() }

func (r *Redis) start() error {
	args := []string{
		"--port", strconv.Itoa(r.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", r.dir,
		"--logfile", "",
	}
	if r.argv != nil {
		args = r.argv(r.port, r.dir)
	}
	cmd := exec.Command(r.bin, args...)
	cmd.Stdout, cmd.Stderr = r.logs, r.logs
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("redis-server on port %d exited at start:\n%s", r.port, r.logs.String())
		default:
		}
		if ping(r.Addr()) == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-done
	return fmt.Errorf("redis-server on port %d did not answer PING within 10s:\n%s", r.port, r.logs.String())
}

// Ping reports whether the server answers PING.
func (r *Redis) Ping() error { return ping(r.Addr()) }

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	// NOAUTH: up, but wants a password (requirepass).
	if l := strings.TrimSpace(line); l != "+PONG" && !strings.HasPrefix(l, "-NOAUTH") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// Kill stops the server with SIGKILL (a crash: no shutdown, no save) and
// waits until it is gone.
func (r *Redis) Kill() {
	r.t.Helper()
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	r.mu.Lock()
	r.cmd = nil
	r.mu.Unlock()
}

// Restart starts the server again on the same port (empty: nothing was
// persisted), killing it first if it still runs.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Kill()
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = r.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.t.Fatalf("harness: restarting redis: %v", err)
}

func (r *Redis) stop() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	stopProcess(cmd, done, os.Interrupt, 3*time.Second)
}

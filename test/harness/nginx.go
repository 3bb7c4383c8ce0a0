package harness

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Nginx is a real nginx run as a child process on loopback, with its own
// prefix (config, pid, temp files and logs in a temporary directory).
type Nginx struct {
	Port   int
	prefix string
	cmd    *exec.Cmd
	logs   *lockedBuffer
}

// NginxBinary finds nginx on PATH or in /usr/sbin (Debian's place, often
// not on a test's PATH). A test that needs it fails without it:
// scripts/test.sh installs it.
func NginxBinary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	t.Fatal("nginx is not installed (scripts/test.sh installs it: apt-get install nginx)")
	return ""
}

// StartNginx runs nginx with http, the body of its http block (server
// blocks and all), listening where http's server blocks say; port is the
// one the test waits on. Stopped at cleanup.
func StartNginx(t testing.TB, port int, http string) *Nginx {
	t.Helper()
	bin := NginxBinary(t)
	prefix := t.TempDir()
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	user := ""
	if os.Geteuid() == 0 {
		// Workers would switch to nobody, who cannot write the temp
		// directories of a root-owned prefix.
		user = "user root;\n"
	}
	conf := fmt.Sprintf(`%sworker_processes 1;
pid %[2]s/nginx.pid;
error_log stderr info;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path %[2]s/tmp/body;
	proxy_temp_path %[2]s/tmp/proxy;
	fastcgi_temp_path %[2]s/tmp/fastcgi;
	uwsgi_temp_path %[2]s/tmp/uwsgi;
	scgi_temp_path %[2]s/tmp/scgi;
%[3]s
}
`, user, prefix, http)
	path := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	cmd := exec.Command(bin, "-p", prefix, "-c", path, "-g", "daemon off;")
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("nginx: %v", err)
	}
	n := &Nginx{Port: port, prefix: prefix, cmd: cmd, logs: logs}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("nginx logs:\n%s", tail(logs.String(), 40))
		}
	})
	ok, _ := Eventually(10*time.Second, 20*time.Millisecond, func() bool {
		select {
		case <-done:
			return true
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return true
		}
		return false
	})
	select {
	case <-done:
		t.Fatalf("nginx exited at start:\n%s\n--- config ---\n%s", logs.String(), conf)
	default:
	}
	if !ok {
		t.Fatalf("nginx did not listen on %d:\n%s", port, logs.String())
	}
	return n
}

// Logs is nginx's error log so far.
func (n *Nginx) Logs() string { return n.logs.String() }

// Conf is the config nginx runs, for a failing test to print.
func (n *Nginx) Conf() string {
	b, _ := os.ReadFile(filepath.Join(n.prefix, "nginx.conf"))
	return strings.TrimSpace(string(b))
}

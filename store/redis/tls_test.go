package redisstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/test/harness"
)

// TestClusterTLS: with `tls` the store speaks TLS to a cluster node that
// only listens for TLS, verifying the certificate against the system
// roots (here SSL_CERT_FILE names the test CA) and the address dialled;
// without `tls` it cannot talk to it at all and fails closed.
//
// Not parallel: t.Setenv, and Go reads SSL_CERT_FILE once per process, at
// the first certificate check; the parallel tests start after this one.
func TestClusterTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := writeCA(t, dir)
	writeServerCert(t, dir, ca, caKey)
	t.Setenv("SSL_CERT_FILE", filepath.Join(dir, "ca.pem"))

	port := harness.FreePort(t)
	for port+10000 > 65535 {
		port = harness.FreePort(t)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command("redis-server", "--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", "",
		"--tls-cert-file", filepath.Join(dir, "server.pem"), "--tls-key-file", filepath.Join(dir, "server-key.pem"),
		"--tls-ca-cert-file", filepath.Join(dir, "ca.pem"), "--tls-auth-clients", "no",
		"--cluster-enabled", "yes", "--tls-cluster", "yes", "--cluster-config-file", "nodes.conf",
		// Alone, a node does not learn its own address from peers.
		"--cluster-announce-ip", "127.0.0.1")
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v (install redis-server)", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	// One node holding every slot is a whole cluster.
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	admin := redis.NewClient(&redis.Options{Addr: addr, TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}, MaxRetries: -1})
	defer admin.Close()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for admin.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("TLS redis-server on %s did not answer: %v", addr, admin.Ping(ctx).Err())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := admin.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		t.Fatal(err)
	}
	for admin.ClusterInfo(ctx).Val() == "" || !containsLine(admin.ClusterInfo(ctx).Val(), "cluster_state:ok") {
		if time.Now().After(deadline) {
			t.Fatal("the one-node cluster is not ok")
		}
		time.Sleep(50 * time.Millisecond)
	}

	s := openHA(t, Config{Cluster: []string{addr}, TLS: true})
	sess := session("u1", time.Now())
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("over TLS: %v", err)
	}
	if _, err := s.GetSession(ctx, sess.ID); err != nil {
		t.Fatalf("over TLS: %v", err)
	}
	plain := openHA(t, Config{Cluster: []string{addr}})
	if err := plain.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("without tls against a TLS-only node: %v, want ErrUnavailable", err)
	}
}

func containsLine(text, line string) bool {
	for _, l := range splitLines(text) {
		if l == line {
			return true
		}
	}
	return false
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			l := s[start:i]
			if len(l) > 0 && l[len(l)-1] == '\r' {
				l = l[:len(l)-1]
			}
			out = append(out, l)
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeCA(t *testing.T, dir string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "caddyauth test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", der)
	ca, _ := x509.ParseCertificate(der)
	return ca, key
}

func writeServerCert(t *testing.T, dir string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "server.pem"), "CERTIFICATE", der)
	kder, _ := x509.MarshalECPrivateKey(key)
	writePEM(t, filepath.Join(dir, "server-key.pem"), "EC PRIVATE KEY", kder)
}

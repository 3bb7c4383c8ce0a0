// Command mockoidc runs github.com/oauth2-proxy/mockoidc, the OpenID
// Connect provider the e2e tests use, as a process of its own, for
// scripts/bench.sh SCENARIO=peers: oauth2-proxy signs in against it (a real
// authorization-code flow with a signed ID token), so the load carries a
// session cookie oauth2-proxy made and validates. Every authorization
// signs in mockoidc's default user (jane.doe@example.com, email verified).
//
//	MOCKOIDC_CLIENT_SECRET=... mockoidc -addr 127.0.0.1:PORT -client-id bench
//
// The client secret comes from the environment so that it is not in the
// process list. It prints "issuer=<url>" once it listens and serves until
// SIGINT or SIGTERM. Loopback addresses only: it signs anyone in.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/oauth2-proxy/mockoidc"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	clientID := flag.String("client-id", "bench", "the OAuth client id")
	ttl := flag.Duration("ttl", time.Hour, "access and ID token lifetime")
	flag.Parse()
	if flag.NArg() != 0 || *ttl <= 0 {
		fatal("usage: MOCKOIDC_CLIENT_SECRET=... mockoidc [-addr 127.0.0.1:PORT] [-client-id ID] [-ttl 1h]")
	}
	secret := os.Getenv("MOCKOIDC_CLIENT_SECRET")
	if len(secret) < 16 {
		fatal("MOCKOIDC_CLIENT_SECRET must be set (at least 16 characters)")
	}
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fatal("-addr must be a loopback host:port")
	}

	m, err := mockoidc.NewServer(nil)
	if err != nil {
		fatal(err.Error())
	}
	m.ClientID, m.ClientSecret = *clientID, secret
	// The ID token's expiry is the session's in oauth2-proxy: longer than
	// any bench run, so no request meets an expired session.
	m.AccessTTL, m.RefreshTTL = *ttl, *ttl
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", *addr)
	if err != nil {
		fatal(err.Error())
	}
	if err := m.Start(ln, nil); err != nil {
		fatal(err.Error())
	}
	fmt.Printf("issuer=%s\n", m.Issuer())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	_ = m.Shutdown()
}

func fatal(msg string) {
	fmt.Fprintln(os.Stderr, "mockoidc: "+msg)
	os.Exit(2)
}

// Package e2e tests the gateway end to end: the built Caddy binary with the
// caddyauth module, a real redis-server, and an echo upstream, driven over
// HTTP and through the `caddy auth` CLI. Run with:
//
//	go test -race -count=1 ./test/...
//
// redis-server must be on PATH (apt-get install -y redis-server), and
// mailpit for the mail tests (scripts/test.sh installs it; see
// harness.MailpitBinary).
package e2e

#!/usr/bin/env bash
# Runs every test of caddyauth: vet, golangci-lint (gofumpt and gci formatting
# included), and `go test -race` over all
# packages, including the end-to-end tests that build the binary and drive
# it against a real Redis. Installs what the tests need when it is missing
# (Debian packages, as root or through sudo; mailpit with `go install`) and
# starts a Redis for the store tests when none answers on 127.0.0.1:6379,
# and a throw-away PostgreSQL when none answers on 127.0.0.1:5432
# (scripts/postgres.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

apt_install() {
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	log "installing: $*"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
# The Sentinel tests start sentinels of their own (redis-sentinel, or
# `redis-server --sentinel` when the package is absent); the Cluster tests
# start three cluster-enabled redis-server and join them with redis-cli.
command -v redis-sentinel >/dev/null || missing+=(redis-sentinel)
# The browser tests drive Debian's chromium; pages render in DejaVu Sans.
[ -x /usr/bin/chromium ] || missing+=(chromium)
# The MFA e2e test checks our TOTP codes against an independent implementation.
command -v oathtool >/dev/null || missing+=(oathtool)
[ -d /usr/share/fonts/truetype/dejavu ] || missing+=(fonts-dejavu-core)
# The forward-auth e2e tests put a real nginx (auth_request) in front.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ "${#missing[@]}" -gt 0 ]; then
	apt_install "${missing[@]}"
fi

# The mail tests deliver to a real mailpit (SMTP + HTTP API to read the
# messages back). It is a Go program: `go install` the pinned version into
# Go's bin directory and hand its path to the tests in CADDYAUTH_MAILPIT.
mailpit_version=v1.33.1
if [ -z "${CADDYAUTH_MAILPIT:-}" ]; then
	gobin="$(go env GOBIN)"
	[ -n "$gobin" ] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
	if ! go version -m "$gobin/mailpit" 2>/dev/null | grep -qP "^\s+mod\s+github.com/axllent/mailpit\s+$mailpit_version\b"; then
		log "installing mailpit $mailpit_version into $gobin"
		GOBIN="$gobin" go install "github.com/axllent/mailpit@$mailpit_version"
	fi
	export CADDYAUTH_MAILPIT="$gobin/mailpit"
fi

# The linters and the formatters gofumpt and gci are golangci-lint's, at a
# pinned version: .golangci.yml is written for it.
golangci_version=v2.15.0
gobin_lint="$(go env GOBIN)"
[ -n "$gobin_lint" ] || gobin_lint="$(go env GOPATH | cut -d: -f1)/bin"
if ! "$gobin_lint/golangci-lint" version 2>/dev/null | grep -q "version ${golangci_version#v} "; then
	log "installing golangci-lint $golangci_version into $gobin_lint"
	GOBIN="$gobin_lint" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$golangci_version"
fi

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	pg_stop
}
trap cleanup EXIT

# The PostgreSQL tests (store conformance, LISTEN/NOTIFY, e2e) create and
# drop their own databases on CADDYAUTH_TEST_POSTGRES.
# shellcheck source=scripts/postgres.sh
. scripts/postgres.sh
pg_setup

# The store conformance suite talks to CADDYAUTH_TEST_REDIS (host:port).
# The e2e tests start (and kill) private redis-server processes of their own.
if [ -z "${CADDYAUTH_TEST_REDIS:-}" ]; then
	if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
		export CADDYAUTH_TEST_REDIS=127.0.0.1:6379
	else
		port=$((20000 + RANDOM % 20000))
		log "starting a private redis-server on 127.0.0.1:$port"
		redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize no >/dev/null &
		pids+=($!)
		for _ in $(seq 50); do
			redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break
			sleep 0.1
		done
		export CADDYAUTH_TEST_REDIS=127.0.0.1:$port
	fi
fi

log "go vet"
go vet ./...
# gofumpt (a stricter gofmt) and gci run as golangci-lint's formatters, with
# the linters of .golangci.yml; `golangci-lint fmt ./...` rewrites what this
# step refuses.
log "golangci-lint $golangci_version"
"$gobin_lint/golangci-lint" run ./...
# The e2e and browser packages drive the real binary; build it once here
# rather than once per package.
if [ -z "${CADDYAUTH_E2E_BINARY:-}" ]; then
	bindir="$(mktemp -d)"
	trap 'cleanup; rm -rf "$bindir"' EXIT
	log "building the gateway binary"
	go build -o "$bindir/caddy" ./cmd/xcaddy-build
	export CADDYAUTH_E2E_BINARY="$bindir/caddy"
fi
log "go test -race (Redis at $CADDYAUTH_TEST_REDIS, PostgreSQL from CADDYAUTH_TEST_POSTGRES)"
go test -race -count=1 -timeout 20m "$@" ./...

#!/usr/bin/env bash
# Runs Caddyfile.example: Caddy with caddyauth in front of a demo app on
# http://localhost:8080. Makes a master secret once (kept in .dev/secret,
# mode 0600) so restarts keep sessions and, later, enrolled MFA working.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .dev
if [ -z "${CADDYAUTH_SECRET:-}" ]; then
	if [ ! -s .dev/secret ]; then
		umask 077
		go run ./cmd/xcaddy-build auth secret generate > .dev/secret
	fi
	CADDYAUTH_SECRET="$(cat .dev/secret)"
	export CADDYAUTH_SECRET
fi
exec go run ./cmd/xcaddy-build run --config Caddyfile.example --adapter caddyfile "$@"

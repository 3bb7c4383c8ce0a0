#!/usr/bin/env bash
# Load test of the protected hot path: one Caddy process with three sites on
# 127.0.0.1,
#
#   upstream   respond "ok" 200                    (the tiny app)
#   bare       reverse_proxy upstream              (the baseline)
#   protected  protect + reverse_proxy upstream    (caddyauth in front)
#
# UPSTREAM=inline (the default) keeps the upstream inside the measured
# Caddy, so every identity header is parsed twice by the process under
# test. UPSTREAM=separate runs it in its own Caddy process, as an app is
# deployed; on 2 cores that third busy process adds its own contention.
#
# one user signed in once, then the same load (same connections, same
# duration, same cookie and headers) against bare and protected alternately,
# ROUNDS times (the order flips every round so drift hits both alike). It
# prints requests/s, p50/p99 latency, Caddy's CPU time per request and its
# heap allocations per request (exact, from Go memstats) for each run, the
# protected/bare ratios per round and overall, and exits 1 if either site
# answers anything but 200 (or a socket error happens).
#
#   scripts/bench.sh                      # 3 rounds x 10 s, 32 connections
#   ROUNDS=5 DURATION=20 CONNS=64 scripts/bench.sh
#   PROFILE=/tmp/prof scripts/bench.sh    # + an uncounted CPU profile run of each site
#   CREDENTIAL=bearer scripts/bench.sh    # Authorization: Bearer <access token> instead of the cookie
#   SCENARIO=verify scripts/bench.sh      # nginx auth_request -> /auth/verify vs nginx alone
#   SCENARIO=mixed scripts/bench.sh       # 3 gateways, PostgreSQL + Redis + mailpit, 30 s mixed load
#   SOAK=600 SCENARIO=mixed scripts/bench.sh # the same for 10 minutes (soak)
#   SCENARIO=peers scripts/bench.sh       # bare vs forward_auth -> oauth2-proxy vs protect on SQLite, PostgreSQL, Redis
#
# SCENARIO=verify measures forward auth instead: "bare" is an nginx
# proxying to the upstream, "protected" the same nginx with the
# docs/forward-auth.md recipe (auth_request to GET /auth/verify on a
# gateway site of the same Caddy). nginx is installed with apt-get if
# missing. The verify bucket is set high enough never to refuse, so its
# cost is measured but not its refusals.
#
# SCENARIO=peers compares, in one run and under the same load, five fronts
# to the same tiny upstream, each with a signed-in session cookie:
#
#   bare       reverse_proxy upstream                         (the baseline)
#   oauth2px   forward_auth to oauth2-proxy + reverse_proxy   (the peer)
#   sqlite     protect, sessions in the embedded SQLite       (the default)
#   postgres   protect, database postgres, sessions database
#   redis      protect, sessions redis (users in SQLite)
#
# bare, oauth2px and sqlite are sites of one Caddy; postgres and redis need
# a caddyauth of their own, so each is a second and third Caddy (with its
# own inline upstream unless UPSTREAM=separate). oauth2-proxy (v7.15.6,
# built with go install into the temp dir, never kept) signs in against
# test/mockoidc, a local OpenID Connect provider, by the real
# authorization-code flow through Caddy, and the load carries the session
# cookie it set, which it decrypts and checks on every /oauth2/auth. Needs
# CADDYAUTH_TEST_POSTGRES (a fresh database is created, dropped at exit;
# psql does both) and CADDYAUTH_TEST_REDIS. CPU per request counts the
# Caddy serving the site plus, for oauth2px, oauth2-proxy; allocations are
# that Caddy's only. Ratios are to bare, per round and overall.
#
# Load generator: wrk (installed with apt-get if missing), else the Go one in
# test/loadtest (LOADGEN=go forces it). Loopback only; everything started
# here is stopped on exit. Sessions use the default database backend
# (SQLite in a temp XDG_DATA_HOME), so no Redis is needed.
#
# The load generator runs on the same machine and competes with Caddy for
# CPU: the absolute numbers say little; read the protected/bare ratios, and
# on a machine shared with other work prefer the allocation counts and the
# PROFILE share, which other processes do not disturb. See docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}   # seconds per run
WARMUP=${WARMUP:-3}        # seconds per site, not counted
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}      # wrk threads (the machine has 2 cores; Caddy needs them)
LOADGEN=${LOADGEN:-auto}   # auto | wrk | go
PROFILE=${PROFILE:-}
UPSTREAM=${UPSTREAM:-inline} # inline | separate
CREDENTIAL=${CREDENTIAL:-cookie} # cookie | bearer (bearer mode's access token)
SCENARIO=${SCENARIO:-protect}    # protect | verify (nginx auth_request) | mixed | peers
O2P_MODULE=github.com/oauth2-proxy/oauth2-proxy/v7@v7.15.6 # SCENARIO=peers
if [ "$SCENARIO" = mixed ]; then
	# Three gateway processes on one fresh PostgreSQL database (dropped
	# after) and one Redis, mailpit for mail; the Go generator of
	# test/e2e/load_mixed_test.go (TestLoadMixed30s) spreads logins, protected
	# GETs, TOTP sign-ins, logouts and forgot-password mails over the three.
	# SOAK (seconds, default 30; 600 for the soak) sets the length.
	# Needs CADDYAUTH_TEST_POSTGRES and CADDYAUTH_TEST_REDIS (as the e2e
	# tests), mailpit in $(go env GOPATH)/bin (or CADDYAUTH_MAILPIT) and
	# oathtool. Exits 1 on any 5xx, lost mail or RSS growth.
	secs=${SOAK:-30}
	if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs < 5 || secs > 3600)); then echo "bench: SOAK must be 5..3600 seconds" >&2; exit 2; fi
	: "${CADDYAUTH_TEST_POSTGRES:?bench: SCENARIO=mixed needs CADDYAUTH_TEST_POSTGRES (postgres://...)}"
	: "${CADDYAUTH_TEST_REDIS:?bench: SCENARIO=mixed needs CADDYAUTH_TEST_REDIS (host:port)}"
	export CADDYAUTH_MAILPIT=${CADDYAUTH_MAILPIT:-$(go env GOPATH)/bin/mailpit}
	bin=$(mktemp "${TMPDIR:-/tmp}/caddyauth-mixed.XXXXXX")
	trap 'rm -f "$bin"' EXIT
	echo "bench: building Caddy with caddyauth (go build ./cmd/xcaddy-build)" >&2
	go build -o "$bin" ./cmd/xcaddy-build
	echo "mixed load: 3 instances, ${secs}s, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	set +e
	CADDYAUTH_E2E_BINARY=$bin CADDYAUTH_LOAD_SECONDS=$secs \
		go test -count=1 -timeout $((secs + 600))s ./test/e2e -run '^TestLoadMixed30s$' -v 2>&1 |
		grep -E 'load_mixed_test|^(--- |PASS|FAIL|ok)'
	rc=${PIPESTATUS[0]}
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	exit "$rc"
fi
case "$SCENARIO" in protect | verify | peers) ;; *) echo "bench: SCENARIO must be protect, verify, mixed or peers" >&2; exit 2 ;; esac
if [ "$SCENARIO" = peers ]; then
	: "${CADDYAUTH_TEST_POSTGRES:?bench: SCENARIO=peers needs CADDYAUTH_TEST_POSTGRES (postgres://... of a role that may CREATE DATABASE)}"
	: "${CADDYAUTH_TEST_REDIS:?bench: SCENARIO=peers needs CADDYAUTH_TEST_REDIS (host:port or redis://...)}"
	if ! command -v psql >/dev/null 2>&1; then echo "bench: SCENARIO=peers needs psql (apt-get install postgresql-client) to create and drop its database" >&2; exit 2; fi
	if [ "$CREDENTIAL" != cookie ]; then echo "bench: SCENARIO=peers measures session cookies only (CREDENTIAL=cookie)" >&2; exit 2; fi
	if [ -n "$PROFILE" ]; then echo "bench: PROFILE is for SCENARIO=protect and verify" >&2; exit 2; fi
fi
case "$CREDENTIAL" in cookie | bearer) ;; *) echo "bench: CREDENTIAL must be cookie or bearer" >&2; exit 2 ;; esac
case "$UPSTREAM" in separate | inline) ;; *) echo "bench: UPSTREAM must be separate or inline" >&2; exit 2 ;; esac
PATH_="/api/items?page=2"

for v in ROUNDS DURATION WARMUP CONNS THREADS; do
	if ! [[ ${!v} =~ ^[0-9]+$ ]]; then echo "bench: $v must be a number" >&2; exit 2; fi
done
if ((ROUNDS < 1 || ROUNDS > 20 || DURATION < 1 || DURATION > 120 || CONNS < 1 || CONNS > 1024 || THREADS < 1 || THREADS > 16 || WARMUP > 60)); then
	echo "bench: ROUNDS 1..20, DURATION 1..120, CONNS 1..1024, THREADS 1..16, WARMUP <= 60" >&2
	exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/caddyauth-bench.XXXXXX")
CADDY_PID=""
UP_PID=""
LOAD_PID=""
PROF_PID=""
NGINX_PID=""
PEER_PIDS="" # SCENARIO=peers: the PostgreSQL and Redis Caddys, oauth2-proxy, mockoidc
PG_DB=""     # SCENARIO=peers: the database created for this run
REAL_HOME=$HOME
cleanup() {
	local rc=$?
	for p in $LOAD_PID $PROF_PID $UP_PID $NGINX_PID $PEER_PIDS; do
		if kill -0 "$p" 2>/dev/null; then kill "$p" 2>/dev/null || true; fi
	done
	for p in $CADDY_PID $PEER_PIDS; do
		kill -0 "$p" 2>/dev/null || continue
		kill "$p" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ -n "$PG_DB" ]; then
		pg_admin "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" || echo "bench: could not drop database $PG_DB" >&2
	fi
	if [ "$rc" -ne 0 ]; then
		for f in "$WORK"/caddy.log "$WORK"/caddy-*.log "$WORK"/oauth2-proxy.log "$WORK"/mockoidc.log; do
			[ -s "$f" ] || continue
			echo "--- $(basename "$f") (last 20 lines) ---" >&2
			tail -n 20 "$f" >&2 || true
		done
	fi
	rm -rf "$WORK"
	exit "$rc"
}
# pg_admin runs one statement on CADDYAUTH_TEST_POSTGRES (with the
# caller's HOME, for a ~/.pgpass; the bench moves HOME into its temp dir).
pg_admin() {
	HOME=$REAL_HOME psql -X -q -w -v ON_ERROR_STOP=1 -d "$CADDYAUTH_TEST_POSTGRES" -c "$1" >/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench: $*" >&2; }

# free_port prints a loopback TCP port nobody listens on (and that this
# script has not handed out yet).
USED_PORTS=" "
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 40000))
		[[ $USED_PORTS == *" $p "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			USED_PORTS+="$p "
			echo "$p"
			return
		fi
	done
	log "no free port found"
	exit 1
}

# --- load generator ---------------------------------------------------------
if [ "$LOADGEN" = auto ] || [ "$LOADGEN" = wrk ]; then
	if ! command -v wrk >/dev/null 2>&1; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			log "installing wrk"
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1 ||
				{ apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1; } || true
		fi
	fi
	if command -v wrk >/dev/null 2>&1; then
		LOADGEN=wrk
	elif [ "$LOADGEN" = wrk ]; then
		log "wrk is not installed and could not be installed"
		exit 1
	else
		LOADGEN=go
	fi
fi
case "$LOADGEN" in
wrk)
	# Counts every status other than 200 (wrk's own "Non-2xx or 3xx" misses
	# redirects) and prints one machine-readable line.
	cat >"$WORK/status.lua" <<'EOF'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non200 = 0 end
function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("non200") end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f non200=%d errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, n,
    e.connect + e.read + e.write + e.timeout))
end
EOF
	;;
go)
	log "building the Go load generator (test/loadtest)"
	go build -o "$WORK/loadtest" ./test/loadtest
	;;
*)
	log "LOADGEN must be auto, wrk or go"
	exit 2
	;;
esac

if [ "$SCENARIO" = verify ]; then
	NGINX=$(command -v nginx || true)
	[ -n "$NGINX" ] || [ ! -x /usr/sbin/nginx ] || NGINX=/usr/sbin/nginx
	if [ -z "$NGINX" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		log "installing nginx"
		{ apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx >/dev/null 2>&1; } || true
		NGINX=$(command -v nginx || echo /usr/sbin/nginx)
	fi
	if [ ! -x "$NGINX" ]; then log "SCENARIO=verify needs nginx"; exit 1; fi
fi

if [ "$SCENARIO" = peers ]; then
	# The peer, built for this run only (the module cache keeps the next
	# build short), and the provider it signs in against.
	log "installing oauth2-proxy (go install $O2P_MODULE into the temp dir)"
	GOBIN="$WORK/bin" go install "$O2P_MODULE"
	log "building the OpenID Connect provider (test/mockoidc)"
	go build -o "$WORK/bin/mockoidc" ./test/mockoidc
fi

# --- Caddy --------------------------------------------------------------------
log "building Caddy with caddyauth (go build ./cmd/xcaddy-build)"
go build -o "$WORK/caddy" ./cmd/xcaddy-build

ADMIN=$(free_port)
UP=$(free_port)
BARE=$(free_port)
PROT=$(free_port)
LOGIN_PORT=$PROT
if [ "$SCENARIO" = verify ]; then
	# BARE and PROT are nginx's; the gateway site is Caddy's.
	GW=$(free_port)
	LOGIN_PORT=$GW
fi
if [ "$SCENARIO" = peers ]; then
	# PROT is the SQLite protect; FWD forward_auth to oauth2-proxy (O2P),
	# which signs in against mockoidc; PGP and RDP are the protect sites of
	# the PostgreSQL and the Redis Caddy.
	FWD=$(free_port)
	O2P=$(free_port)
	PGP=$(free_port)
	PG_ADMIN=$(free_port)
	RDP=$(free_port)
	RD_ADMIN=$(free_port)
	UP_PG=$UP
	UP_RD=$UP
	if [ "$UPSTREAM" = inline ]; then
		UP_PG=$(free_port)
		UP_RD=$(free_port)
	fi
fi
# Caddy's data (the SQLite database) and config go to the temp dir; the Go
# caches stay where they are (go tool pprof runs later with this HOME).
GOCACHE=$(go env GOCACHE) GOMODCACHE=$(go env GOMODCACHE) GOPATH=$(go env GOPATH)
export GOCACHE GOMODCACHE GOPATH
export HOME="$WORK/home" XDG_DATA_HOME="$WORK/data" XDG_CONFIG_HOME="$WORK/config"
mkdir -p "$HOME" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME"
CADDYAUTH_SECRET=$("$WORK/caddy" auth secret generate)
export CADDYAUTH_SECRET

if [ "$SCENARIO" = protect ] || [ "$SCENARIO" = peers ]; then
	SITES=$(cat <<EOF
# Baseline: plain reverse_proxy.
http://:$BARE {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:$UP
}

# The same, behind caddyauth.
http://:$PROT {
	bind 127.0.0.1
	protect
	reverse_proxy 127.0.0.1:$UP
}
EOF
	)
	if [ "$SCENARIO" = peers ]; then
		# The same behind oauth2-proxy, as its docs put it in front of
		# Caddy: its own paths proxied to it, everything else asked at
		# /oauth2/auth first; the identity under protect's header names.
		SITES+=$(cat <<EOF


http://:$FWD {
	bind 127.0.0.1
	handle /oauth2/* {
		reverse_proxy 127.0.0.1:$O2P
	}
	handle {
		forward_auth 127.0.0.1:$O2P {
			uri /oauth2/auth
			copy_headers X-Auth-Request-User>Remote-User X-Auth-Request-Email>Remote-Email X-Auth-Request-Preferred-Username>Remote-Name
		}
		reverse_proxy 127.0.0.1:$UP
	}
}
EOF
		)
	fi
else
	# The gateway nginx asks (SCENARIO=verify).
	SITES=$(cat <<EOF
http://:$GW {
	bind 127.0.0.1
	auth_portal {
		verify 127.0.0.1:$PROT
	}
}
EOF
	)
fi
cat >"$WORK/Caddyfile" <<EOF
{
	admin 127.0.0.1:$ADMIN
	auto_https off
	persist_config off
	log {
		level ERROR
	}
$(if [ "$SCENARIO" = verify ]; then printf '\tservers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}\n'; fi)
	caddyauth {
		secret {env.CADDYAUTH_SECRET}
		cookie {
			insecure
		}
$(if [ "$SCENARIO" = verify ]; then printf '\t\trate_limit {\n\t\t\tverify 100000000/1m\n\t\t}\n'; fi)
	}
}

$(if [ "$UPSTREAM" = inline ]; then printf 'http://:%s {\n\tbind 127.0.0.1\n\trespond "ok" 200\n}\n' "$UP"; fi)

$SITES
EOF

if [ "$SCENARIO" = peers ]; then
	# A fresh database on the test server, dropped by cleanup.
	PG_DB=caddyauth_bench_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
	if [[ $CADDYAUTH_TEST_POSTGRES =~ ^(postgres(ql)?://[^/?]*)(/[^?]*)?(\?.*)?$ ]]; then
		CADDYAUTH_BENCH_PG_DSN="${BASH_REMATCH[1]}/$PG_DB${BASH_REMATCH[4]}"
	elif [[ $CADDYAUTH_TEST_POSTGRES != *://* ]]; then
		CADDYAUTH_BENCH_PG_DSN="$CADDYAUTH_TEST_POSTGRES dbname=$PG_DB" # key/value: the last dbname wins
	else
		log "CADDYAUTH_TEST_POSTGRES is neither a postgres:// URL nor a key/value string"
		PG_DB=""
		exit 2
	fi
	if ! pg_admin "CREATE DATABASE $PG_DB"; then
		log "could not create database $PG_DB on CADDYAUTH_TEST_POSTGRES (is the server up, may the role CREATE DATABASE?)"
		PG_DB=""
		exit 1
	fi
	CADDYAUTH_BENCH_REDIS_URL=$CADDYAUTH_TEST_REDIS
	if [[ $CADDYAUTH_BENCH_REDIS_URL != *://* ]]; then CADDYAUTH_BENCH_REDIS_URL="redis://$CADDYAUTH_BENCH_REDIS_URL/0"; fi
	export CADDYAUTH_BENCH_PG_DSN CADDYAUTH_BENCH_REDIS_URL

	# peer_caddyfile admin upstream site 'store lines': a Caddy of its own
	# for one more session backend, otherwise the main one's config.
	peer_caddyfile() {
		cat <<EOF
{
	admin 127.0.0.1:$1
	auto_https off
	persist_config off
	log {
		level ERROR
	}
	caddyauth {
		secret {env.CADDYAUTH_SECRET}
$4
		cookie {
			insecure
		}
	}
}

$(if [ "$UPSTREAM" = inline ]; then printf 'http://:%s {\n\tbind 127.0.0.1\n\trespond "ok" 200\n}\n' "$2"; fi)

http://:$3 {
	bind 127.0.0.1
	protect
	reverse_proxy 127.0.0.1:$2
}
EOF
	}
	peer_caddyfile "$PG_ADMIN" "$UP_PG" "$PGP" "$(printf '\t\tdatabase postgres {env.CADDYAUTH_BENCH_PG_DSN}\n\t\tsessions database')" >"$WORK/Caddyfile.postgres"
	mkdir -p "$WORK/redis"
	peer_caddyfile "$RD_ADMIN" "$UP_RD" "$RDP" "$(printf '\t\tdatabase sqlite %s\n\t\tsessions redis {env.CADDYAUTH_BENCH_REDIS_URL}' "$WORK/redis/caddyauth.db")" >"$WORK/Caddyfile.redis"
fi

EMAIL=bench@example.test
PASSWORD="bench-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# add_user config: the bench user in that config's user store.
add_user() {
	if ! printf '%s' "$PASSWORD" | "$WORK/caddy" auth user add --config "$1" --adapter caddyfile \
		--email "$EMAIL" --password-stdin >"$WORK/useradd.log" 2>&1; then
		log "caddy auth user add ($(basename "$1")) failed:"
		cat "$WORK/useradd.log" >&2
		exit 1
	fi
}
add_user "$WORK/Caddyfile"
if [ "$SCENARIO" = peers ]; then
	add_user "$WORK/Caddyfile.postgres"
	add_user "$WORK/Caddyfile.redis"
fi

if [ "$UPSTREAM" = separate ]; then
	# The tiny upstream both sites proxy to, in its own process.
	cat >"$WORK/Upstream.caddyfile" <<EOF
{
	admin off
	auto_https off
	persist_config off
	log {
		level ERROR
	}
}
http://:$UP {
	bind 127.0.0.1
	respond "ok" 200
}
EOF
	"$WORK/caddy" run --config "$WORK/Upstream.caddyfile" --adapter caddyfile >"$WORK/upstream.log" 2>&1 &
	UP_PID=$!
fi
"$WORK/caddy" run --config "$WORK/Caddyfile" --adapter caddyfile >"$WORK/caddy.log" 2>&1 &
CADDY_PID=$!
if [ "$SCENARIO" = peers ]; then
	"$WORK/caddy" run --config "$WORK/Caddyfile.postgres" --adapter caddyfile >"$WORK/caddy-postgres.log" 2>&1 &
	PG_PID=$!
	"$WORK/caddy" run --config "$WORK/Caddyfile.redis" --adapter caddyfile >"$WORK/caddy-redis.log" 2>&1 &
	RD_PID=$!
	PEER_PIDS="$PG_PID $RD_PID"
	# Secrets through the environment of the one process that needs
	# them, never on a command line.
	OIDC_SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
	# Port 0: the issuer it prints names the port it got.
	MOCKOIDC_CLIENT_SECRET=$OIDC_SECRET "$WORK/bin/mockoidc" -addr 127.0.0.1:0 -client-id bench \
		>"$WORK/mockoidc.out" 2>"$WORK/mockoidc.log" &
	OIDC_PID=$!
	PEER_PIDS+=" $OIDC_PID"
	for i in $(seq 50); do
		ISSUER=$(sed -n 's/^issuer=//p' "$WORK/mockoidc.out")
		[ -z "$ISSUER" ] || break
		if ! kill -0 "$OIDC_PID" 2>/dev/null; then log "mockoidc exited"; exit 1; fi
		if [ "$i" = 50 ]; then log "mockoidc did not come up in 10 s"; exit 1; fi
		sleep 0.2
	done
	# Cookie sessions (its default store), no request log (Caddy has no
	# access log either), X-Auth-Request-* for copy_headers.
	OAUTH2_PROXY_CLIENT_SECRET=$OIDC_SECRET OAUTH2_PROXY_COOKIE_SECRET=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n') \
		"$WORK/bin/oauth2-proxy" --http-address "127.0.0.1:$O2P" --provider oidc --oidc-issuer-url "$ISSUER" \
		--client-id bench --code-challenge-method S256 --redirect-url "http://127.0.0.1:$FWD/oauth2/callback" \
		--email-domain '*' --cookie-secure=false --upstream static://202 --reverse-proxy --trusted-proxy-ip 127.0.0.1/32 \
		--set-xauthrequest --skip-provider-button --request-logging=false >"$WORK/oauth2-proxy.log" 2>&1 &
	O2P_PID=$!
	PEER_PIDS+=" $O2P_PID"
	unset OIDC_SECRET
fi
if [ "$SCENARIO" = verify ]; then
	# nginx alone, and nginx with the docs/forward-auth.md recipe (plus
	# keepalive to both upstreams, as a production nginx has).
	mkdir -p "$WORK/nginx/tmp" "$WORK/nginx/logs"
	user=""
	if [ "$(id -u)" = 0 ]; then user="user root;"; fi
	cat >"$WORK/nginx/nginx.conf" <<EOF
$user
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 2048; }
http {
	access_log off;
	client_body_temp_path $WORK/nginx/tmp/body;
	proxy_temp_path $WORK/nginx/tmp/proxy;
	fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
	uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
	scgi_temp_path $WORK/nginx/tmp/scgi;
	upstream app { server 127.0.0.1:$UP; keepalive 64; }
	upstream gateway { server 127.0.0.1:$GW; keepalive 64; }
	server {
		listen 127.0.0.1:$BARE;
		location / {
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_pass http://app;
		}
	}
	server {
		listen 127.0.0.1:$PROT;
		location / {
			auth_request /_caddyauth;
			auth_request_set \$auth_user \$upstream_http_remote_user;
			auth_request_set \$auth_email \$upstream_http_remote_email;
			auth_request_set \$auth_name \$upstream_http_remote_name;
			auth_request_set \$auth_groups \$upstream_http_remote_groups;
			auth_request_set \$auth_redirect \$upstream_http_x_auth_redirect;
			proxy_set_header Remote-User \$auth_user;
			proxy_set_header Remote-Email \$auth_email;
			proxy_set_header Remote-Name \$auth_name;
			proxy_set_header Remote-Groups \$auth_groups;
			error_page 401 = @caddyauth_signin;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_pass http://app;
		}
		location = /_caddyauth {
			internal;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_pass http://gateway/auth/verify;
			proxy_pass_request_body off;
			proxy_set_header Content-Length "";
			proxy_set_header Host 127.0.0.1:$GW;
			proxy_set_header X-Original-URL \$scheme://\$http_host\$request_uri;
			proxy_set_header X-Original-Method \$request_method;
			proxy_set_header X-Forwarded-For \$remote_addr;
		}
		location @caddyauth_signin {
			if (\$auth_redirect) {
				return 302 \$auth_redirect;
			}
			return 401;
		}
	}
}
EOF
	"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' >"$WORK/nginx.log" 2>&1 &
	NGINX_PID=$!
fi
for i in $(seq 150); do
	if curl -fsS -o /dev/null "http://127.0.0.1:$BARE/" 2>/dev/null; then break; fi
	if ! kill -0 "$CADDY_PID" 2>/dev/null; then log "caddy exited"; CADDY_PID=""; exit 1; fi
	if [ "$i" = 150 ]; then log "caddy did not come up in 30 s"; exit 1; fi
	sleep 0.2
done
# wait_http name pid url: until url answers anything (30 s at most).
wait_http() {
	for i in $(seq 150); do
		if [ "$(curl -sS -o /dev/null -w '%{http_code}' "$3" 2>/dev/null)" != 000 ]; then return; fi
		if ! kill -0 "$2" 2>/dev/null; then log "$1 exited"; exit 1; fi
		if [ "$i" = 150 ]; then log "$1 did not come up in 30 s"; exit 1; fi
		sleep 0.2
	done
}
if [ "$SCENARIO" = peers ]; then
	wait_http "caddy (postgres)" "$PG_PID" "http://127.0.0.1:$PGP/"
	wait_http "caddy (redis)" "$RD_PID" "http://127.0.0.1:$RDP/"
	wait_http oauth2-proxy "$O2P_PID" "http://127.0.0.1:$O2P/ping"
fi

# login port: signs in once on that port's portal and sets LOGIN_HDR (the
# Cookie line, or the bearer mode's Authorization line).
LOGIN_BODY=$(printf '{"email":"%s","password":"%s"}' "$EMAIL" "$PASSWORD")
TOKEN_TYPE=cookie
if [ "$CREDENTIAL" = bearer ]; then TOKEN_TYPE=header; fi
LOGIN_HDR=""
login() {
	local status
	status=$(curl -sS -o "$WORK/login.json" -D "$WORK/login.hdr" -w '%{http_code}' \
		-H 'Content-Type: application/json' -H 'Accept: application/json' -H "X-Access-Token-Type: $TOKEN_TYPE" \
		--data-binary "$LOGIN_BODY" "http://127.0.0.1:$1/auth/login")
	if [ "$status" != 200 ]; then
		log "login on :$1 answered $status: $(cat "$WORK/login.json")"
		exit 1
	fi
	if [ "$CREDENTIAL" = bearer ]; then
		# Bearer mode: the access token (15 minutes: longer than a default run)
		# in place of the cookie; the header variable keeps its name.
		ACCESS=$(sed -E 's/.*"access_token":"([^"]+)".*/\1/' "$WORK/login.json")
		if [ -z "$ACCESS" ] || [ "$ACCESS" = "$(cat "$WORK/login.json")" ]; then log "bearer login gave no access token"; exit 1; fi
		LOGIN_HDR="Authorization: Bearer $ACCESS"
	else
		COOKIE=$(grep -i '^set-cookie:' "$WORK/login.hdr" | head -n1 | sed -E 's/^[Ss][Ee][Tt]-[Cc][Oo][Oo][Kk][Ii][Ee]: *([^;]+).*/\1/' | tr -d '\r')
		if [ -z "$COOKIE" ]; then log "login set no cookie"; exit 1; fi
		LOGIN_HDR="Cookie: theme=dark; $COOKIE"
	fi
}
login "$LOGIN_PORT"
HDR_COOKIE=$LOGIN_HDR
HDR_ACCEPT="Accept: application/json"
# What each site is sent and whose CPU and memory stand for it: by default
# HDR_COOKIE and the main Caddy (caddy_cpu_ticks, caddy_mallocs).
declare -A SITE_HDR=() SITE_PIDS=() SITE_ADMIN=()
if [ "$SCENARIO" = peers ]; then
	login "$PGP"
	SITE_HDR[postgres]=$LOGIN_HDR
	login "$RDP"
	SITE_HDR[redis]=$LOGIN_HDR
	SITE_PIDS[postgres]=$PG_PID
	SITE_ADMIN[postgres]=$PG_ADMIN
	SITE_PIDS[redis]=$RD_PID
	SITE_ADMIN[redis]=$RD_ADMIN
	SITE_PIDS[oauth2px]="$CADDY_PID $O2P_PID"
	# oauth2-proxy's own sign-in, the authorization-code flow through
	# Caddy as a browser follows it: /oauth2/start, mockoidc's authorize
	# (it signs its default user in at once), /oauth2/callback (code for
	# tokens, ID token verified, session cookie set), then the app.
	status=$(curl -sS -L --max-redirs 5 -c "$WORK/o2p.jar" -b "$WORK/o2p.jar" -o /dev/null -w '%{http_code}' \
		"http://127.0.0.1:$FWD/oauth2/start?rd=%2F")
	if [ "$status" != 200 ]; then log "oauth2-proxy sign-in ended with $status"; exit 1; fi
	# Its session cookie (split in _oauth2_proxy_0, _1... when large), not the CSRF one.
	COOKIE=$(awk '$6 ~ /^_oauth2_proxy(_[0-9]+)?$/ { printf "%s%s=%s", sep, $6, $7; sep = "; " }' "$WORK/o2p.jar")
	if [ -z "$COOKIE" ]; then log "oauth2-proxy sign-in set no session cookie"; exit 1; fi
	SITE_HDR[oauth2px]="Cookie: theme=dark; $COOKIE"
fi

# Sanity: the cookie passes, no cookie does not, and the upstream answers.
check_status() { # url want [cookie]
	local got
	if [ -n "${3:-}" ]; then
		got=$(curl -sS -o /dev/null -w '%{http_code}' -H "$HDR_ACCEPT" -H "$3" "$1")
	else
		got=$(curl -sS -o /dev/null -w '%{http_code}' -H "$HDR_ACCEPT" "$1")
	fi
	if [ "$got" != "$2" ]; then log "$1 answered $got, want $2"; exit 1; fi
}
check_status "http://127.0.0.1:$PROT$PATH_" 200 "$HDR_COOKIE"
check_status "http://127.0.0.1:$PROT$PATH_" 401
check_status "http://127.0.0.1:$BARE$PATH_" 200 "$HDR_COOKIE"
if [ "$SCENARIO" = peers ]; then
	for s in oauth2px:$FWD postgres:$PGP redis:$RDP; do
		check_status "http://127.0.0.1:${s##*:}$PATH_" 200 "${SITE_HDR[${s%%:*}]}"
		check_status "http://127.0.0.1:${s##*:}$PATH_" 401
	done
fi

# caddy_cpu_ticks [pid...] prints the user+system CPU time of those
# processes (Caddy's by default) in clock ticks.
caddy_cpu_ticks() {
	local p t=0
	for p in "${@:-$CADDY_PID}"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	echo "$t"
}
# caddy_mallocs [admin port] prints Caddy's cumulative heap allocation count and bytes
# (Go memstats from the admin endpoint's expvar): exact, unlike CPU time
# on a shared machine.
caddy_mallocs() {
	# shellcheck disable=SC2020 # each of , { } to a newline, on purpose
	curl -sS --max-time 5 "http://127.0.0.1:${1:-$ADMIN}/debug/vars" |
		tr ',{}' '\n\n\n' | awk -F: '/"Mallocs"/ && !m { m = $2 } /"TotalAlloc"/ && !b { b = $2 } END { print m + 0, b + 0 }'
}
TCK=$(getconf CLK_TCK)

# run_load site port seconds: sets LINE to
# "requests=.. duration_s=.. rps=.. p50_ms=.. p99_ms=.. non200=.. errors=.. cpu_us=.. allocs=.. alloc_kb=.."
# (not run in a subshell, so the trap knows LOAD_PID).
LINE=""
run_load() {
	local site=$1 port=$2 secs=$3 out="$WORK/run.out" t0 t1
	local url="http://127.0.0.1:$port$PATH_"
	local m0 b0 m1 b1
	local hdr=${SITE_HDR[$site]:-$HDR_COOKIE} admin=${SITE_ADMIN[$site]:-$ADMIN} pids
	read -r -a pids <<<"${SITE_PIDS[$site]:-$CADDY_PID}"
	read -r m0 b0 < <(caddy_mallocs "$admin")
	t0=$(caddy_cpu_ticks "${pids[@]}")
	if [ "$LOADGEN" = wrk ]; then
		timeout $((secs + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${secs}s" --timeout 5s -s "$WORK/status.lua" \
			-H "$hdr" -H "$HDR_ACCEPT" "$url" >"$out" 2>&1 &
	else
		timeout $((secs + 30)) "$WORK/loadtest" -c "$CONNS" -d "${secs}s" \
			-H "$hdr" -H "$HDR_ACCEPT" "$url" >"$out" 2>&1 &
	fi
	LOAD_PID=$!
	if ! wait "$LOAD_PID"; then LOAD_PID=""; log "load generator failed on $site:"; cat "$out" >&2; exit 1; fi
	LOAD_PID=""
	t1=$(caddy_cpu_ticks "${pids[@]}")
	read -r m1 b1 < <(caddy_mallocs "$admin")
	local line
	line=$(grep -m1 'rps=' "$out" | sed 's/^RESULT //')
	if [ -z "$line" ]; then log "no result from the load generator on $site:"; cat "$out" >&2; exit 1; fi
	local req
	req=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
	local cpu_us
	cpu_us=$(awk -v t=$((t1 - t0)) -v hz="$TCK" -v n="$req" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print 0 }')
	local allocs
	allocs=$(awk -v m=$((m1 - m0)) -v b=$((b1 - b0)) -v n="$req" 'BEGIN { if (n > 0) printf "allocs=%.1f alloc_kb=%.2f", m / n, b / n / 1024; else print "allocs=0 alloc_kb=0" }')
	LINE="$line cpu_us=$cpu_us $allocs"
}

field() { sed -E "s/.*(^| )$1=([^ ]+).*/\\2/" <<<"$2"; }

FAIL=0
check_run() { # site line
	local n e
	n=$(field non200 "$2")
	e=$(field errors "$2")
	if [ "$n" != 0 ] || [ "$e" != 0 ]; then
		log "$1: $n responses other than 200 and $e socket errors"
		FAIL=1
	fi
}

log "loadgen=$LOADGEN conns=$CONNS threads=$THREADS rounds=$ROUNDS duration=${DURATION}s warmup=${WARMUP}s"
# The sites measured, in the order of odd rounds (even rounds reverse it).
SITE_LIST="bare:$BARE protected:$PROT"
if [ "$SCENARIO" = peers ]; then SITE_LIST="bare:$BARE oauth2px:$FWD sqlite:$PROT postgres:$PGP redis:$RDP"; fi
REVERSED=$(tr ' ' '\n' <<<"$SITE_LIST" | tac | tr '\n' ' ')
if ((WARMUP > 0)); then
	for s in $SITE_LIST; do
		run_load "${s%%:*}" "${s##*:}" "$WARMUP"
		check_run "${s%%:*} (warm-up)" "$LINE"
	done
	if [ "$FAIL" != 0 ]; then exit 1; fi
fi

echo
CPU_COL=caddy_cpu_us
if [ "$SCENARIO" = verify ]; then
	echo "forward auth: nginx auth_request -> /auth/verify + proxy vs nginx proxy alone (same nginx, same upstream; credential: $CREDENTIAL)"
elif [ "$SCENARIO" = peers ]; then
	echo "peers: bare reverse_proxy vs forward_auth -> oauth2-proxy vs protect with sessions on SQLite, PostgreSQL, Redis (same upstream, session cookies, upstream $UPSTREAM)"
	echo "oauth2-proxy ${O2P_MODULE##*@} (go install), load average $(cut -d' ' -f1-3 /proc/loadavg); cpu_us is the Caddy serving the site, plus oauth2-proxy for oauth2px; allocs are that Caddy's"
	CPU_COL=cpu_us
else
	echo "caddyauth hot path: protect + reverse_proxy vs bare reverse_proxy (same Caddy, same upstream; credential: $CREDENTIAL)"
fi
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3), loadgen $LOADGEN, $CONNS connections, ${DURATION}s per run"
echo
printf '%-6s %-10s %10s %9s %9s %12s %13s %7s %7s\n' round site req/s p50_ms p99_ms "$CPU_COL" allocs/KB_req non200 errors
declare -A SUM_RPS=() SUM_CPU=() SUM_ALLOC=() SUM_KB=() RATIOS_OF=()
RATIOS=()
for r in $(seq "$ROUNDS"); do
	if ((r % 2 == 1)); then order=$SITE_LIST; else order=$REVERSED; fi
	declare -A RPS=() CPU=()
	for s in $order; do
		site=${s%%:*}
		run_load "$site" "${s##*:}" "$DURATION"
		line=$LINE
		check_run "$site" "$line"
		RPS[$site]=$(field rps "$line")
		CPU[$site]=$(field cpu_us "$line")
		printf '%-6s %-10s %10.0f %9s %9s %12s %13s %7s %7s\n' "$r" "$site" "${RPS[$site]}" "$(field p50_ms "$line")" \
			"$(field p99_ms "$line")" "${CPU[$site]}" "$(field allocs "$line")/$(field alloc_kb "$line")" \
			"$(field non200 "$line")" "$(field errors "$line")"
		SUM_RPS[$site]=$(awk -v a="${SUM_RPS[$site]:-0}" -v b="${RPS[$site]}" 'BEGIN { print a + b }')
		SUM_CPU[$site]=$(awk -v a="${SUM_CPU[$site]:-0}" -v b="${CPU[$site]}" 'BEGIN { print a + b }')
		SUM_ALLOC[$site]=$(awk -v a="${SUM_ALLOC[$site]:-0}" -v b="$(field allocs "$line")" 'BEGIN { print a + b }')
		SUM_KB[$site]=$(awk -v a="${SUM_KB[$site]:-0}" -v b="$(field alloc_kb "$line")" 'BEGIN { print a + b }')
		if [ "$FAIL" != 0 ]; then exit 1; fi
	done
	if [ "$SCENARIO" = peers ]; then
		# One line: every site's req/s over bare's in this round.
		ratios=""
		for s in $SITE_LIST; do
			site=${s%%:*}
			[ "$site" = bare ] && continue
			ratio=$(awk -v p="${RPS[$site]}" -v b="${RPS[bare]}" 'BEGIN { printf "%.3f", p / b }')
			RATIOS_OF[$site]+="$ratio "
			ratios+="$site $ratio  "
		done
		printf '%-6s %-10s %s (req/s over bare)\n' "$r" ratio "$ratios"
		unset RPS CPU
		continue
	fi
	ratio=$(awk -v p="${RPS[protected]}" -v b="${RPS[bare]}" 'BEGIN { printf "%.3f", p / b }')
	RATIOS+=("$ratio")
	printf '%-6s %-10s %10s   (protected/bare req/s; Caddy CPU per request %s us)\n' "$r" ratio "$ratio" \
		"$(awk -v p="${CPU[protected]}" -v b="${CPU[bare]}" 'BEGIN { printf "%+.1f", p - b }')"
	unset RPS CPU
done

echo
if [ "$SCENARIO" = peers ]; then
	printf '%-10s %10s %8s %8s %8s %8s %10s %13s\n' site req/s ratio median min max "$CPU_COL" allocs/KB_req
	for s in $SITE_LIST; do
		site=${s%%:*}
		awk -v r="${SUM_RPS[$site]}" -v br="${SUM_RPS[bare]}" -v c="${SUM_CPU[$site]}" -v al="${SUM_ALLOC[$site]}" \
			-v kb="${SUM_KB[$site]}" -v n="$ROUNDS" -v site="$site" -v ratios="${RATIOS_OF[$site]:-}" 'BEGIN {
			k = split(ratios, a, " ")
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			if (k == 0) { med = "-"; lo = "-"; hi = "-" } else {
				med = sprintf("%.3f", (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2)
				lo = sprintf("%.3f", a[1]); hi = sprintf("%.3f", a[k])
			}
			printf "%-10s %10.0f %8.3f %8s %8s %8s %10.1f %13s\n", site, r / n, r / br, med, lo, hi, c / n,
				sprintf("%.1f/%.2f", al / n, kb / n)
		}'
	done
	echo "(req/s: mean of $ROUNDS runs; ratio: of the means, to bare; median, min, max: of the per-round ratios)"
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	if [ "$FAIL" != 0 ]; then exit 1; fi
	exit 0
fi
awk -v pr="${SUM_RPS[protected]}" -v br="${SUM_RPS[bare]}" -v pc="${SUM_CPU[protected]}" -v bc="${SUM_CPU[bare]}" \
	-v n="$ROUNDS" -v ratios="${RATIOS[*]}" -v scenario="$SCENARIO" 'BEGIN {
	k = split(ratios, a, " ")
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	med = (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	printf "overall   bare %.0f req/s, protected %.0f req/s (means of %d runs)\n", br / n, pr / n, n
	if (scenario == "verify")
		printf "ratio     %.3f of mean req/s (median per-round ratio %.3f, min %.3f, max %.3f); no target: auth_request adds a subrequest and a second upstream per request\n",
			pr / br, med, a[1], a[k]
	else
		printf "ratio     %.3f of mean req/s (median per-round ratio %.3f, min %.3f, max %.3f); target >= 0.90: %s\n",
			pr / br, med, a[1], a[k], (pr / br >= 0.90) ? "met" : "NOT met"
	printf "caddy CPU per request: bare %.1f us, protected %.1f us (%+.1f us, %+.0f%%)\n",
		bc / n, pc / n, (pc - bc) / n, (pc - bc) / bc * 100
}'
awk -v pa="${SUM_ALLOC[protected]}" -v ba="${SUM_ALLOC[bare]}" -v pk="${SUM_KB[protected]}" -v bk="${SUM_KB[bare]}" -v n="$ROUNDS" 'BEGIN {
	printf "caddy heap allocations per request: bare %.1f (%.1f KB), protected %.1f (%.1f KB): %+.1f allocs, %+.2f KB\n",
		ba / n, bk / n, pa / n, pk / n, (pa - ba) / n, (pk - bk) / n
}'

if [ -n "$PROFILE" ]; then
	mkdir -p "$PROFILE"
	secs=$((DURATION < 10 ? 10 : DURATION))
	for s in bare:$BARE protected:$PROT; do
		site=${s%%:*}
		curl -sS -o "$PROFILE/$site.pprof" "http://127.0.0.1:$ADMIN/debug/pprof/profile?seconds=$secs" &
		PROF_PID=$!
		run_load "$site" "${s##*:}" "$secs"
		line=$LINE
		wait "$PROF_PID" || log "profile of $site failed"
		PROF_PID=""
		check_run "$site (profile run)" "$line"
		log "CPU profile of $site under load: $PROFILE/$site.pprof ($(field rps "$line") req/s, profiler on)"
	done
	cp "$WORK/caddy" "$PROFILE/caddy"
	# protect's own CPU: samples under Protect.ServeHTTP that are not in the
	# reverse proxy it calls next.
	share=$(go tool pprof -top -focus='caddyauth\.\(\*Protect\)\.ServeHTTP' -ignore='reverseproxy' \
		"$PROFILE/caddy" "$PROFILE/protected.pprof" 2>/dev/null |
		awk '/caddyauth\.\(\*Protect\)\.ServeHTTP$/ { print $5 " (" $4 " of CPU time)"; exit }')
	echo "protect's own share of Caddy CPU under load (profile, reverse_proxy excluded): ${share:-n/a}"
	log "read with: go tool pprof -top $PROFILE/caddy $PROFILE/protected.pprof"
fi

if [ "$FAIL" != 0 ]; then exit 1; fi

# Sourced by scripts/test.sh: makes CADDYAUTH_TEST_POSTGRES point at a
# PostgreSQL server where the tests may CREATE DATABASE. The tests create a
# fresh database per package run (or per test) and drop it afterwards.
#
# - CADDYAUTH_TEST_POSTGRES already set: used as is.
# - A server answers on 127.0.0.1:5432 (trust auth, database test): used.
# - Otherwise: installs postgresql if needed and starts a throw-away cluster
#   (initdb + pg_ctl, trust auth, loopback only, a free port) in a temp
#   directory, stopped and removed on exit through pg_stop.
# Needs log and apt_install from test.sh.

pg_bindir() {
	local d
	if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
		dirname "$(command -v initdb)"
		return
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
	done
	return 1
}

pg_datadir=""
pg_runas=()

pg_stop() {
	[ -n "$pg_datadir" ] || return 0
	"${pg_runas[@]}" "$pg_bin/pg_ctl" -D "$pg_datadir/data" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$pg_datadir"
	pg_datadir=""
}

pg_start_throwaway() {
	pg_bin="$(pg_bindir)" || { apt_install postgresql; pg_bin="$(pg_bindir)"; }
	pg_datadir="$(mktemp -d)"
	# initdb and the server refuse to run as root: use the postgres user
	# the Debian package creates.
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
		chown postgres "$pg_datadir"
		pg_runas=(runuser -u postgres --)
	fi
	local port=$((20000 + RANDOM % 20000))
	while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
	log "starting a throw-away PostgreSQL on 127.0.0.1:$port ($pg_bin)"
	"${pg_runas[@]}" "$pg_bin/initdb" -D "$pg_datadir/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
	"${pg_runas[@]}" "$pg_bin/pg_ctl" -D "$pg_datadir/data" -l "$pg_datadir/log" -w -t 30 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $pg_datadir -c fsync=off -c max_connections=300" start >/dev/null
	export CADDYAUTH_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}

pg_setup() {
	[ -z "${CADDYAUTH_TEST_POSTGRES:-}" ] || return 0
	if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432 &&
		psql -w -h 127.0.0.1 -p 5432 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
		export CADDYAUTH_TEST_POSTGRES="postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
		return
	fi
	pg_start_throwaway
}

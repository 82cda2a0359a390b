#!/usr/bin/env bash
# A private, throw-away PostgreSQL server for tests and demos (Debian's
# postgresql package: initdb, pg_ctl), on loopback, with its data in a
# temporary folder, run by an unprivileged user (PostgreSQL refuses root).
#
#   postgres.sh start [PORT [OWNER_PID]]  # prints "dir DIR" and "dsn DSN"
#   postgres.sh stop DIR                  # stops the server, removes DIR
#   postgres.sh pause DIR                 # stops the server, keeps DIR
#   postgres.sh resume DIR                # starts it again, on its port
#
# PORT 0 (the default) tries free ports at random. With OWNER_PID, the
# server is stopped and its folder removed when that process ends (a test
# binary killed by a timeout leaves nothing behind). As root the server
# runs as $PGTEST_USER (default postgres, the package's user; created when
# missing). The binaries are $PGBIN, else initdb's folder on PATH, else the
# newest /usr/lib/postgresql/*/bin.
set -euo pipefail

die() { echo "postgres.sh: $*" >&2; exit 1; }

bindir() {
  if [ -n "${PGBIN:-}" ]; then echo "$PGBIN"; return; fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] || die "initdb not found: install PostgreSQL (apt-get install -y postgresql) or set PGBIN"
  echo "$d"
}

# as runs a command as the server's user.
as() {
  if [ "$(id -u)" -ne 0 ]; then "$@"; return; fi
  runuser -u "$PGUSER_OS" -- "$@"
}

# serve starts the server of DIR on PORT: loopback only, no Unix socket,
# fsync off (a throw-away server).
serve() {
  local bin=$1 dir=$2 p=$3
  as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $p -k '' -c fsync=off -c full_page_writes=off -c max_connections=200" start >/dev/null 2>&1
}

start() {
  local port=${1:-0} owner=${2:-} bin dir log
  bin=$(bindir)
  PGUSER_OS=$(id -un)
  if [ "$(id -u)" -eq 0 ]; then
    PGUSER_OS=${PGTEST_USER:-postgres}
    if ! id "$PGUSER_OS" >/dev/null 2>&1; then
      useradd --system --no-create-home --shell /usr/sbin/nologin "$PGUSER_OS" || die "cannot create user $PGUSER_OS"
    fi
  fi
  # In $TMPDIR, else /tmp when the server's user cannot reach $TMPDIR.
  local base
  dir=
  for base in "${TMPDIR:-/tmp}" /tmp; do
    dir=$(mktemp -d "$base/iocpipe-pg.XXXXXX")
    if [ "$(id -u)" -eq 0 ]; then chown "$PGUSER_OS" "$dir"; fi
    as test -w "$dir" && break
    rmdir "$dir"; dir=
  done
  [ -n "$dir" ] || die "user $PGUSER_OS cannot write a folder in ${TMPDIR:-/tmp} or /tmp"
  log="$dir/initdb.log"
  if ! as "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >"$log" 2>&1; then
    cat "$log" >&2; rm -rf "$dir"; die "initdb failed"
  fi
  local try p
  for try in $(seq 1 20); do
    p=$port
    [ "$p" -eq 0 ] && p=$((20000 + RANDOM % 40000))
    if serve "$bin" "$dir" "$p"; then
      echo "$p" >"$dir/port"
      if [ -n "$owner" ]; then
        # The same steps as stop, for when the owner ends without it.
        setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done
          if [ -d "$2/data" ]; then
            if [ "$(id -u)" -eq 0 ]; then runuser -u "$3" -- "$0/pg_ctl" -D "$2/data" -m immediate -w stop
            else "$0/pg_ctl" -D "$2/data" -m immediate -w stop; fi
          fi
          rm -rf "$2"' "$bin" "$owner" "$dir" "$PGUSER_OS" </dev/null >/dev/null 2>&1 &
      fi
      echo "dir $dir"
      echo "dsn postgres://postgres@127.0.0.1:$p/postgres?sslmode=disable"
      return
    fi
    [ "$port" -ne 0 ] && break
  done
  cat "$dir/server.log" >&2 2>/dev/null || true
  rm -rf "$dir"
  die "the server did not start (port $port)"
}

stop() {
  local dir=${1:?usage: postgres.sh stop DIR} bin
  [ -d "$dir/data" ] || { rm -rf "$dir"; return; }
  bin=$(bindir)
  PGUSER_OS=$(stat -c %U "$dir/data")
  as "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

pause() {
  local dir=${1:?usage: postgres.sh pause DIR} bin
  bin=$(bindir)
  PGUSER_OS=$(stat -c %U "$dir/data")
  as "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
}

resume() {
  local dir=${1:?usage: postgres.sh resume DIR} bin
  bin=$(bindir)
  PGUSER_OS=$(stat -c %U "$dir/data")
  serve "$bin" "$dir" "$(cat "$dir/port")" || { cat "$dir/server.log" >&2; die "the server did not start again"; }
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  pause) shift; pause "$@" ;;
  resume) shift; resume "$@" ;;
  *) die "usage: postgres.sh start [PORT [OWNER_PID]] | stop DIR | pause DIR | resume DIR" ;;
esac

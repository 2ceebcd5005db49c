# A throwaway PostgreSQL for the test suites. Source this file, then:
#
#   postgres_start   # initdb a fresh cluster in a temp dir, serve it on a free loopback port,
#                    # export ASSETD_TEST_DATABASE_URL=postgres://assetd:…@127.0.0.1:PORT/postgres
#   postgres_create_database NAME   # create a database on it and print its URL
#   postgres_stop    # stop it and delete its files (call it from an EXIT trap)
#
# Uses Debian's packaged server (scripts/install-deps.sh installs it). PostgreSQL refuses to
# run as root, so as root the cluster belongs to `nobody`. Durability is switched off
# (fsync=off): the cluster lives only as long as the test run.

postgres_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
    echo "postgres.sh: no PostgreSQL server under /usr/lib/postgresql (run scripts/install-deps.sh)" >&2
    return 1
  fi
  echo "$dir"
}

# Runs a command as the cluster's owner.
postgres_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u nobody -- "$@"
  else
    "$@"
  fi
}

postgres_start() {
  local bin port password
  bin="$(postgres_bin)" || return 1
  POSTGRES_DIR="$(mktemp -d "${TMPDIR:-/tmp}/assetd-postgres.XXXXXX")"
  chmod 0755 "$POSTGRES_DIR"
  [ "$(id -u)" -ne 0 ] || chown nobody "$POSTGRES_DIR"
  password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  printf '%s\n' "$password" > "$POSTGRES_DIR/pwfile"
  [ "$(id -u)" -ne 0 ] || chown nobody "$POSTGRES_DIR/pwfile"
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  postgres_as_owner "$bin/initdb" -D "$POSTGRES_DIR/data" -U assetd --pwfile="$POSTGRES_DIR/pwfile" \
    --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$POSTGRES_DIR/initdb.log" 2>&1 || {
    cat "$POSTGRES_DIR/initdb.log" >&2
    return 1
  }
  rm -f "$POSTGRES_DIR/pwfile"
  postgres_as_owner "$bin/pg_ctl" -D "$POSTGRES_DIR/data" -l "$POSTGRES_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$POSTGRES_DIR \
        -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || {
    cat "$POSTGRES_DIR/server.log" >&2
    return 1
  }
  export ASSETD_TEST_DATABASE_URL="postgres://assetd:$password@127.0.0.1:$port/postgres"
  echo "postgres: serving a throwaway cluster on 127.0.0.1:$port ($POSTGRES_DIR)"
}

postgres_create_database() {
  local bin
  bin="$(postgres_bin)" || return 1
  "$bin/psql" -q -v ON_ERROR_STOP=1 -d "$ASSETD_TEST_DATABASE_URL" -c "CREATE DATABASE $1" >&2 || return 1
  echo "${ASSETD_TEST_DATABASE_URL%/*}/$1"
}

postgres_stop() {
  [ -n "${POSTGRES_DIR:-}" ] || return 0
  local bin
  if bin="$(postgres_bin)" && [ -f "$POSTGRES_DIR/data/postmaster.pid" ]; then
    postgres_as_owner "$bin/pg_ctl" -D "$POSTGRES_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$POSTGRES_DIR"
  unset POSTGRES_DIR ASSETD_TEST_DATABASE_URL
}

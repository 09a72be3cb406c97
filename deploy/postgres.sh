#!/usr/bin/env bash
# A throwaway PostgreSQL server for the collector's tests, on 127.0.0.1.
#
# Prints one line on stdout, the SQLAlchemy URL the tests take from
# EVALUATOR_TEST_PG_URL; everything else goes to stderr. Idempotent: a server
# already running from this data directory is left alone. As root it installs
# Debian's `postgresql` when missing and runs the server as the `postgres`
# user (the server refuses to run as root). Without root and without the
# binaries it says what to install, prints nothing on stdout and exits 0, so
# the PostgreSQL tests skip instead of failing.
#
# The data directory lives in /tmp, not in the repository: the `postgres`
# user must be able to reach it, and a checkout under /root is not reachable.
# It is a test cluster: fsync is off, and the only password is in this file.
set -euo pipefail

PORT=${EVALUATOR_PG_PORT:-55432}
DATA=${EVALUATOR_PG_DIR:-/tmp/evaluator-test-pg-$PORT}
ROLE=evaluator
PASSWORD=evaluator
DATABASE=evaluator_test

say() { echo "postgres.sh: $*" >&2; }

find_bindir() {
  local dir
  # Debian keeps the server programs off PATH, one folder per major version: take the newest.
  dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
    echo "$dir"
  elif command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(command -v initdb)"
  fi
}

BINDIR=$(find_bindir)
if [ -z "$BINDIR" ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    say "PostgreSQL is not installed; the PostgreSQL tests will be skipped."
    say "install Debian's 'postgresql' package (sudo apt-get install postgresql) or run make as root,"
    say "or point EVALUATOR_TEST_PG_URL at a server (postgresql+psycopg://user:password@host:port/db)."
    exit 0
  fi
  say "installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  BINDIR=$(find_bindir)
  [ -n "$BINDIR" ] || { say "postgresql installed but initdb not found"; exit 1; }
fi

# As root every server program runs as `postgres`; otherwise as whoever runs this.
if [ "$(id -u)" -eq 0 ]; then
  OWNER=postgres
  as_owner() { (cd / && runuser -u "$OWNER" -- "$@"); }
else
  OWNER=$(id -un)
  as_owner() { (cd / && "$@"); }
fi

running() { as_owner "$BINDIR/pg_ctl" status -D "$DATA" >/dev/null 2>&1; }

major=$(basename "$(dirname "$BINDIR")")
if [ -d "$DATA" ] && ! running; then
  # A half-made directory (interrupted initdb) or one from another major version cannot start: redo it.
  if [ ! -f "$DATA/PG_VERSION" ] || { [[ $major =~ ^[0-9]+$ ]] && [ "$(cat "$DATA/PG_VERSION")" != "$major" ]; }; then
    say "discarding unusable data directory $DATA"
    rm -rf "$DATA"
  fi
fi

if [ ! -d "$DATA" ]; then
  say "creating a test cluster in $DATA"
  mkdir -p "$DATA"
  chown "$OWNER": "$DATA"
  chmod 700 "$DATA"
  # UTF8 whatever the caller's locale (root in CI often has none, which would mean SQL_ASCII).
  as_owner "$BINDIR/initdb" -D "$DATA" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  # The socket sits in the 0700 data directory, so "trust" on it admits only the owner.
  cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DATA'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
fi

if running; then
  say "already running on 127.0.0.1:$PORT ($DATA)"
else
  say "starting PostgreSQL $major on 127.0.0.1:$PORT"
  if ! as_owner "$BINDIR/pg_ctl" start -D "$DATA" -l "$DATA/server.log" -w -t 60 >/dev/null; then
    say "the server did not start; its log:"
    tail -n 20 "$DATA/server.log" >&2 || true
    exit 1
  fi
fi

# CREATEDB: each test session works in a database of its own, made from this one.
as_owner "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$DATA" -p "$PORT" -U postgres -d postgres >/dev/null <<SQL
SELECT 'CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD ''$PASSWORD'''
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') \gexec
SELECT 'CREATE DATABASE $DATABASE OWNER $ROLE'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DATABASE') \gexec
SQL

echo "postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"

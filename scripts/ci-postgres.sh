#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on 127.0.0.1 for the `pg` tests and print the URL to use as
# ROUCAI_PG_URL.  Installs Debian's postgresql if it is missing (root only).  Prints nothing and exits 1
# if no cluster could be started: the pg tests then skip, as documented.
set -u
PORT="${ROUCAI_PG_PORT:-54329}"
# the first free port from PORT on (an earlier run may still hold one)
for _ in 1 2 3 4 5 6 7 8 9 10; do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
  PORT=$((PORT + 1))
done
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$BIN" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (timeout 300 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq postgresql) >&2 || true
  BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
[ -n "$BIN" ] || exit 1
DIR=$(mktemp -d /tmp/roucai-pg.XXXXXX)
RUN=""
if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; RUN="runuser -u postgres --"; fi
$RUN "$BIN/initdb" -D "$DIR/data" -A trust -U postgres >/dev/null 2>&1 || exit 1
$RUN "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off" start >/dev/null 2>&1 || exit 1
$RUN "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres roucai_ci >/dev/null 2>&1 || exit 1
echo "postgresql://postgres@127.0.0.1:$PORT/roucai_ci"

#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests, on 127.0.0.1, all state under DIR.
#
#   tools/pg-server.sh start DIR   initdb (first time only) and start, waiting
#                                  until `SELECT 1` works
#   tools/pg-server.sh stop DIR    fast shutdown (idempotent)
#   tools/pg-server.sh env DIR     print `export` lines (DATABASE_URL, PG*)
#   tools/pg-server.sh status DIR  exit 0 if the server runs
#
# stop + start on the same DIR keeps the data. Superuser `postgres`, trust
# authentication (no password), database `postgres`. Tuned for tests, not for
# durability: fsync, synchronous_commit and full_page_writes are off.
#
# Port: DOCSTORE_TEST_PG_PORT, else the port DIR was last started with, else
# 25432. As root (CI), DIR is made owned by the `postgres` user and initdb and
# pg_ctl run as that user (every parent folder of DIR must be searchable by it);
# as another user they run as that user. initdb/pg_ctl come from PATH or the
# newest /usr/lib/postgresql/*/bin.
set -euo pipefail

ME=pg-server
die() { echo "$ME: $*" >&2; exit 1; }
log() { echo "$ME: $*" >&2; }

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[ $# -eq 2 ] || usage
CMD=$1
DIR=$2
[ -n "$DIR" ] || usage
DIR=$(realpath -m -- "$DIR")
DATA=$DIR/data
LOGF=$DIR/postgres.log
STATE=$DIR/pg.env

find_bin() {
    local b
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        BIN=$(dirname "$(command -v pg_ctl)")
        return 0
    fi
    b=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$b" ] || [ ! -x "$b/initdb" ] || [ ! -x "$b/pg_ctl" ]; then
        die "initdb/pg_ctl not found (PATH, /usr/lib/postgresql/*/bin): run tools/setup.sh (postgresql)"
    fi
    BIN=$b
}

# as_pg CMD...: run as the cluster owner (postgres when we are root).
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

state_get() {
    [ -f "$STATE" ] || return 0
    sed -n "s/^export $1=//p" "$STATE" | tail -n 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

is_running() {
    [ -f "$DATA/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

write_state() {
    {
        echo "export DATABASE_URL=postgresql://postgres@127.0.0.1:$PORT/postgres"
        echo "export PGHOST=127.0.0.1"
        echo "export PGPORT=$PORT"
        echo "export PGUSER=postgres"
        echo "export PGDATABASE=postgres"
        echo "export DOCSTORE_TEST_PG_DIR=$DIR"
        echo "export DOCSTORE_TEST_PG_PORT=$PORT"
    } >"$STATE.tmp"
    mv -f "$STATE.tmp" "$STATE"
}

cmd_start() {
    local t0 v
    t0=$(date +%s.%N)
    find_bin
    v=${DOCSTORE_TEST_PG_PORT:-$(state_get DOCSTORE_TEST_PG_PORT)}
    PORT=${v:-25432}
    [[ $PORT =~ ^[0-9]+$ ]] || die "bad port: $PORT"

    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' user: run tools/setup.sh (postgresql)"
        mkdir -p "$DIR"
        chown postgres: "$DIR"
        chmod 700 "$DIR"
        runuser -u postgres -- test -w "$DIR" ||
            die "the postgres user cannot write $DIR: a parent folder is not searchable (chmod o+x it, or use a DIR elsewhere)"
    else
        mkdir -p "$DIR"
    fi

    if is_running; then
        local running_port
        running_port=$(sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || true)
        if [ "$running_port" = "$PORT" ]; then
            write_state
            log "already running for $DIR (127.0.0.1:$PORT)"
            return 0
        fi
        log "running on port $running_port; restarting on $PORT"
        as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    fi

    if port_in_use "$PORT"; then
        die "127.0.0.1:$PORT is already in use by another process; set DOCSTORE_TEST_PG_PORT"
    fi

    if [ ! -f "$DATA/PG_VERSION" ]; then
        rm -rf "$DATA"
        if ! as_pg "$BIN/initdb" -D "$DATA" -A trust -U postgres -E UTF8 \
            --no-locale --no-sync >"$DIR/initdb.log" 2>&1; then
            tail -n 30 "$DIR/initdb.log" >&2
            die "initdb failed (log: $DIR/initdb.log)"
        fi
    fi

    # The Unix socket goes in DIR too (not /var/run/postgresql) unless the path
    # would exceed the 107-byte socket path limit; clients use 127.0.0.1 anyway.
    local sockdir=$DIR
    [ $((${#DIR} + 20)) -lt 107 ] || sockdir=
    local opts="-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='$sockdir'"
    opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    if ! as_pg "$BIN/pg_ctl" -D "$DATA" -o "$opts" -l "$LOGF" -w -t 60 start >/dev/null; then
        echo "----- tail of $LOGF -----" >&2
        tail -n 30 "$LOGF" >&2 || true
        die "PostgreSQL did not start"
    fi
    write_state
    if command -v psql >/dev/null; then
        if ! psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc 'SELECT 1' >/dev/null; then
            tail -n 30 "$LOGF" >&2 || true
            die "started, but SELECT 1 over TCP failed"
        fi
    fi
    log "ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s: postgresql://postgres@127.0.0.1:$PORT/postgres, data in $DATA"
}

cmd_stop() {
    if [ ! -f "$DATA/postmaster.pid" ]; then
        log "nothing to stop in $DIR"
        return 0
    fi
    find_bin
    if is_running; then
        as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null ||
            die "pg_ctl stop failed (log: $LOGF)"
    fi
    log "stopped ($DIR)"
}

cmd_env() {
    [ -f "$STATE" ] || die "no server state in $DIR (run: $0 start $DIR)"
    cat "$STATE"
}

cmd_status() {
    find_bin
    if is_running; then
        echo "postgres: running ($(sed -n 1p "$DATA/postmaster.pid"), port $(sed -n 4p "$DATA/postmaster.pid"))"
    else
        echo "postgres: stopped"
        return 1
    fi
}

case $CMD in
    start) cmd_start ;;
    stop) cmd_stop ;;
    env) cmd_env ;;
    status) cmd_status ;;
    *) usage ;;
esac

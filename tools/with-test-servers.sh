#!/usr/bin/env bash
# Runs a command with throwaway test servers: starts the S3 server
# (tools/s3-server.sh, Swift + s3api, with its HTTPS front) and PostgreSQL
# (tools/pg-server.sh) in a fresh temporary folder, exports their variables,
# runs CMD, always stops the servers and removes the folder, and exits with
# CMD's status (or 1 if a server would not start).
#
#   tools/with-test-servers.sh CMD [ARG...]
#
# CMD sees the variables of `s3-server.sh env` and `pg-server.sh env`
# (STORAGE_TYPE=s3, S3_*, DATABASE_URL, PG*, DOCSTORE_TEST_S3_TLS_ENDPOINT,
# DOCSTORE_TEST_S3_CA_BUNDLE, the ports), plus DOCSTORE_TEST_S3_DIR,
# DOCSTORE_TEST_PG_DIR and DOCSTORE_TEST_TOOLS_DIR, so that a test can stop
# and restart a server in the middle:
#   "$DOCSTORE_TEST_TOOLS_DIR/s3-server.sh" stop "$DOCSTORE_TEST_S3_DIR"
#   "$DOCSTORE_TEST_TOOLS_DIR/s3-server.sh" start "$DOCSTORE_TEST_S3_DIR"
#
# Knobs: DOCSTORE_TEST_SERVERS ("s3 pg"; e.g. "pg" for PostgreSQL only),
# DOCSTORE_TEST_S3_TLS (1; 0 = no HTTPS front), DOCSTORE_TEST_KEEP=1 (keep the
# folder with logs and data; the servers are stopped all the same),
# DOCSTORE_TEST_TMPDIR (/tmp; it must be searchable by the postgres user), and
# the port variables of both scripts. If no port variable is set and a default
# port is taken (say, by another run of this script), all the ports move
# together by a multiple of 10 until they are free.
set -euo pipefail

ME=with-test-servers
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ $# -eq 0 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
    sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi

SERVERS=${DOCSTORE_TEST_SERVERS:-s3 pg}
export DOCSTORE_TEST_S3_TLS=${DOCSTORE_TEST_S3_TLS:-1}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# name=default of every port the servers use.
# All below Linux's ephemeral range (32768-60999), where any outgoing
# connection could take a port between our check and the server's bind.
PORT_VARS=(DOCSTORE_TEST_S3_PORT=18080 DOCSTORE_TEST_S3_TLS_PORT=18443
    DOCSTORE_TEST_SWIFT_OBJECT_PORT=16210 DOCSTORE_TEST_SWIFT_CONTAINER_PORT=16211
    DOCSTORE_TEST_SWIFT_ACCOUNT_PORT=16212 DOCSTORE_TEST_MEMCACHED_PORT=21211
    DOCSTORE_TEST_PG_PORT=25432)

pick_ports() {
    local kv name any_set=0 k busy
    for kv in "${PORT_VARS[@]}"; do
        name=${kv%%=*}
        if [ -n "${!name:-}" ]; then any_set=1; fi
    done
    [ "$any_set" = 0 ] || return 0 # the caller chose; the scripts check them
    for ((k = 0; k < 50; k++)); do
        busy=0
        for kv in "${PORT_VARS[@]}"; do
            if port_in_use $((${kv#*=} + 10 * k)); then busy=1; break; fi
        done
        if [ "$busy" = 0 ]; then
            for kv in "${PORT_VARS[@]}"; do
                export "${kv%%=*}=$((${kv#*=} + 10 * k))"
            done
            [ "$k" = 0 ] || echo "$ME: default ports busy; using ports +$((10 * k))" >&2
            return 0
        fi
    done
    echo "$ME: found no free set of ports; set the DOCSTORE_TEST_*_PORT variables" >&2
    exit 1
}

BASE=$(mktemp -d "${DOCSTORE_TEST_TMPDIR:-/tmp}/docstore-test-servers.XXXXXX")
chmod 755 "$BASE" # the postgres user must reach $BASE/pg
STARTED=()

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local rc=$? s
    trap - EXIT INT TERM
    for s in ${STARTED[@]+"${STARTED[@]}"}; do
        "$HERE/$s-server.sh" stop "$BASE/$s" >/dev/null 2>&1 ||
            echo "$ME: stopping $s failed" >&2
    done
    if [ "${DOCSTORE_TEST_KEEP:-0}" = 1 ]; then
        echo "$ME: kept $BASE" >&2
    else
        rm -rf "$BASE"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pick_ports
export DOCSTORE_TEST_TOOLS_DIR=$HERE
for s in $SERVERS; do
    case $s in
        s3 | pg) ;;
        *) echo "$ME: unknown server '$s' in DOCSTORE_TEST_SERVERS" >&2; exit 1 ;;
    esac
    STARTED+=("$s")
    if ! "$HERE/$s-server.sh" start "$BASE/$s"; then
        echo "$ME: the $s server did not start" >&2
        exit 1
    fi
    eval "$("$HERE/$s-server.sh" env "$BASE/$s")"
done

# CMD runs in the background (with our stdin) so that a SIGTERM or SIGINT sent
# to this script is passed on to it at once and the servers still get stopped.
CHILD=
# shellcheck disable=SC2317 # invoked by the INT/TERM traps
forward() { # SIGNAL EXIT-STATUS
    if [ -n "$CHILD" ]; then
        kill -s "$1" "$CHILD" 2>/dev/null || true
        wait "$CHILD" 2>/dev/null || true
    fi
    exit "$2"
}
trap 'forward INT 130' INT
trap 'forward TERM 143' TERM
set +e
"$@" <&0 &
CHILD=$!
wait "$CHILD"
rc=$?
set -e
exit "$rc"

#!/usr/bin/env bash
# Throwaway S3-compatible test server: a single-node OpenStack Swift with the
# s3api middleware, plus the memcached it needs, all on 127.0.0.1 and with all
# state (configs, rings, devices, logs, pid files, certificates) under DIR.
#
#   tools/s3-server.sh start DIR      start in the background, wait until an S3
#                                     bucket PUT succeeds (DOCSTORE_TEST_S3_TLS=1
#                                     also serves HTTPS on a second port)
#   tools/s3-server.sh tls-start DIR  same as DOCSTORE_TEST_S3_TLS=1 start
#   tools/s3-server.sh stop DIR       stop everything started for DIR (idempotent)
#   tools/s3-server.sh env DIR        print `export` lines for the tests
#   tools/s3-server.sh status DIR     exit 0 if every process is running
#   tools/s3-server.sh check DIR      self-check of a running server (see below)
#
# stop + start on the same DIR keeps buckets and objects (rings, devices and
# ports are reused; the CA and certificate too).
#
# Ports (environment; otherwise the ports DIR was last started with; otherwise
# these defaults, chosen away from the recipe's 8080/6210-6212/11211 so that a
# hand-started Swift or a packaged memcached does not collide):
#   DOCSTORE_TEST_S3_PORT               18080  S3 (HTTP) proxy
#   DOCSTORE_TEST_S3_TLS_PORT           18443  S3 (HTTPS) proxy, TLS only
#   DOCSTORE_TEST_SWIFT_OBJECT_PORT     16210
#   DOCSTORE_TEST_SWIFT_CONTAINER_PORT  16211
#   DOCSTORE_TEST_SWIFT_ACCOUNT_PORT    16212
#   DOCSTORE_TEST_MEMCACHED_PORT        21211
# Other knobs: DOCSTORE_TEST_S3_BUCKET (docstore-test),
#   DOCSTORE_TEST_S3_START_TIMEOUT seconds (60).
#
# Python: the readiness probe and `check` use Debian's /usr/bin/python3 with
# python3-boto3 (not the pyenv python3 on PATH); Swift itself is Debian's.
#
# What Swift 2.30's s3api verifies (checked by `check` against this server):
#   - SigV4 signatures: a wrong secret -> 403 SignatureDoesNotMatch.
#   - Content-MD5 on object PUT: a wrong value -> 400 BadDigest (s3api hands it
#     to the object server as the expected ETag).
#   - x-amz-content-sha256 is required with header auth (missing -> 400
#     InvalidRequest); a value that does not match the body -> 400 BadDigest
#     (s3api hashes the body while reading it). UNSIGNED-PAYLOAD is accepted.
#   - Presigned URLs (query SigV4): a tampered one -> 403 SignatureDoesNotMatch.
#   - aws-chunked / STREAMING-AWS4-HMAC-SHA256-PAYLOAD uploads -> 501.
# Swift reads its hash prefix/suffix from /etc/swift/swift.conf (installed by
# the swift package); this script does not touch /etc.
set -euo pipefail

PY=/usr/bin/python3
ME=s3-server

die() { echo "$ME: $*" >&2; exit 1; }
log() { echo "$ME: $*" >&2; }

usage() {
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[ $# -eq 2 ] || usage
CMD=$1
DIR=$2
[ -n "$DIR" ] || usage
DIR=$(realpath -m -- "$DIR")

ETC=$DIR/etc
RUN=$DIR/run
LOGD=$DIR/log
SRV=$DIR/srv
TLSD=$DIR/tls
STATE=$DIR/s3.env
# Processes in start order; stop goes in reverse.
PROCS=(memcached account container object proxy proxy-tls)

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# alive PID: running and not a zombie (an exited child of ours whose parent,
# often PID 1 here, has not reaped it yet still answers kill -0).
alive() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) } # the state follows "(comm) ", and comm may hold spaces
    st=${st%% *}
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# state_get KEY: a value from the state file of the previous start, if any.
state_get() {
    [ -f "$STATE" ] || return 0
    sed -n "s/^export $1=//p" "$STATE" | tail -n 1
}

resolve_ports() {
    local v
    v=${DOCSTORE_TEST_S3_PORT:-$(state_get DOCSTORE_TEST_S3_PORT)}; S3_PORT=${v:-18080}
    v=${DOCSTORE_TEST_S3_TLS_PORT:-$(state_get DOCSTORE_TEST_S3_TLS_PORT)}; TLS_PORT=${v:-18443}
    v=${DOCSTORE_TEST_SWIFT_OBJECT_PORT:-$(state_get DOCSTORE_TEST_SWIFT_OBJECT_PORT)}; OBJ_PORT=${v:-16210}
    v=${DOCSTORE_TEST_SWIFT_CONTAINER_PORT:-$(state_get DOCSTORE_TEST_SWIFT_CONTAINER_PORT)}; CONT_PORT=${v:-16211}
    v=${DOCSTORE_TEST_SWIFT_ACCOUNT_PORT:-$(state_get DOCSTORE_TEST_SWIFT_ACCOUNT_PORT)}; ACC_PORT=${v:-16212}
    v=${DOCSTORE_TEST_MEMCACHED_PORT:-$(state_get DOCSTORE_TEST_MEMCACHED_PORT)}; MC_PORT=${v:-21211}
    v=${DOCSTORE_TEST_S3_BUCKET:-$(state_get S3_BUCKET)}; BUCKET=${v:-docstore-test}
    local p
    for p in "$S3_PORT" "$TLS_PORT" "$OBJ_PORT" "$CONT_PORT" "$ACC_PORT" "$MC_PORT"; do
        if ! [[ $p =~ ^[0-9]+$ ]] || [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then
            die "bad port: $p"
        fi
    done
}

pidfile() { echo "$RUN/$1.pid"; }

# is_ours NAME PID: PID is alive and is the process we started for DIR (guards
# against a recycled pid after a reboot or a stale pid file).
is_ours() {
    local name=$1 pid=$2 cmdline
    [ -r "/proc/$pid/cmdline" ] || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    case $name in
        memcached) [[ $cmdline == *memcached* && $cmdline == *"-p $(cat "$RUN/memcached.port" 2>/dev/null) "* ]] ;;
        *) [[ $cmdline == *"$ETC/$name.conf"* ]] ;;
    esac
}

running_pid() { # prints the pid of NAME if it is running
    local f pid
    f=$(pidfile "$1")
    [ -f "$f" ] || return 1
    pid=$(cat "$f" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    is_ours "$1" "$pid" || return 1
    echo "$pid"
}

stop_all() {
    local name pid pids=() i
    [ -d "$RUN" ] || return 0
    for ((i = ${#PROCS[@]} - 1; i >= 0; i--)); do
        name=${PROCS[i]}
        if pid=$(running_pid "$name"); then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    # Up to 10 s for a clean exit, then SIGKILL.
    for ((i = 0; i < 100; i++)); do
        local left=()
        for pid in ${pids[@]+"${pids[@]}"}; do
            alive "$pid" && left+=("$pid")
        done
        pids=(${left[@]+"${left[@]}"})
        [ ${#pids[@]} -eq 0 ] && break
        sleep 0.1
    done
    for pid in ${pids[@]+"${pids[@]}"}; do
        log "pid $pid did not exit on SIGTERM; killing"
        kill -KILL "$pid" 2>/dev/null || true
    done
    for name in "${PROCS[@]}"; do rm -f "$(pidfile "$name")"; done
}

# show_logs: the log of each process since its last start; longer for the
# processes that are no longer running.
show_logs() {
    local name f n
    for name in "${PROCS[@]}"; do
        f=$LOGD/$name.log
        [ -f "$f" ] || continue
        n=8
        running_pid "$name" >/dev/null || n=40
        echo "----- $f (since last start, last $n lines) -----" >&2
        awk '/^=== .* start: /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$f" |
            tail -n "$n" >&2 || true
    done
}

write_configs() {
    local user type port
    user=$(id -un)
    mkdir -p "$ETC" "$RUN" "$LOGD" "$SRV/d1" "$DIR/cache"
    for type in account container object; do
        case $type in
            account) port=$ACC_PORT ;;
            container) port=$CONT_PORT ;;
            object) port=$OBJ_PORT ;;
        esac
        cat >"$ETC/$type.conf" <<EOF
# generated by tools/s3-server.sh
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
bind_timeout = 5
workers = 0
user = $user
swift_dir = $ETC
devices = $SRV
mount_check = false
disable_fallocate = true
recon_cache_path = $DIR/cache
log_name = $type-server
log_level = INFO

[pipeline:main]
pipeline = $type-server

[app:$type-server]
use = egg:swift#$type
EOF
    done
    write_proxy_conf proxy "$S3_PORT" ""
    if [ "$TLS" = 1 ]; then
        write_proxy_conf proxy-tls "$TLS_PORT" "cert_file = $TLSD/server.pem
key_file = $TLSD/server.key"
    fi
}

write_proxy_conf() { # NAME PORT EXTRA-DEFAULT-LINES
    cat >"$ETC/$1.conf" <<EOF
# generated by tools/s3-server.sh
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $2
bind_timeout = 5
workers = 0
user = $(id -un)
swift_dir = $ETC
log_name = $1
log_level = INFO
$3

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MC_PORT

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
EOF
}

# One ring per server type (part power 8, 1 replica, 1 device d1), built with
# Swift's RingBuilder API in one Python process (the swift-ring-builder CLI
# needs 9 processes). Rebuilt only when the storage ports change; with a single
# device every partition stays on d1, so the data survives a rebuild. Also
# checks that DIR's filesystem has user xattrs (Swift keeps metadata there).
build_rings() {
    local stamp="$OBJ_PORT $CONT_PORT $ACC_PORT"
    if [ -f "$ETC/rings.stamp" ] && [ "$(cat "$ETC/rings.stamp")" = "$stamp" ] &&
        [ -f "$ETC/object.ring.gz" ] && [ -f "$ETC/container.ring.gz" ] &&
        [ -f "$ETC/account.ring.gz" ]; then
        return 0
    fi
    "$PY" - "$ETC" "$SRV/d1" "$OBJ_PORT" "$CONT_PORT" "$ACC_PORT" <<'EOF'
import os, sys
from swift.common.ring import RingBuilder
etc, dev, ports = sys.argv[1], sys.argv[2], sys.argv[3:6]
probe = os.path.join(dev, '.xattr-probe')
open(probe, 'w').close()
try:
    os.setxattr(probe, 'user.swift.probe', b'1')
except OSError as e:
    sys.exit('s3-server: %s does not support user xattrs (%s); '
             'Swift needs them: use a DIR on ext4/xfs/btrfs' % (dev, e))
finally:
    os.unlink(probe)
for kind, port in zip(('object', 'container', 'account'), ports):
    b = RingBuilder(8, 1, 1)
    b.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1',
               'port': int(port), 'device': 'd1', 'weight': 1})
    b.rebalance()
    b.save(os.path.join(etc, kind + '.builder'))
    b.get_ring().save(os.path.join(etc, kind + '.ring.gz'))
EOF
    echo "$stamp" >"$ETC/rings.stamp"
}

# make_certs: a CA and a server certificate for 127.0.0.1 and localhost, kept
# across restarts (so a CA bundle a test holds stays valid); remade only when
# missing, unreadable or expiring within a day.
make_certs() {
    command -v openssl >/dev/null || die "openssl not found (tools/setup.sh installs it)"
    if [ -f "$TLSD/server.key" ] &&
        openssl x509 -in "$TLSD/server.pem" -noout -checkend 86400 >/dev/null 2>&1 &&
        openssl verify -CAfile "$TLSD/ca.pem" "$TLSD/server.pem" >/dev/null 2>&1; then
        return 0
    fi
    rm -rf "$TLSD"
    mkdir -p "$TLSD"
    (
        cd "$TLSD"
        umask 077
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
            -keyout ca.key -out ca.pem -subj "/CN=docstore test CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -sha256 -keyout server.key \
            -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
        printf '%s\n' "basicConstraints=CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=serverAuth" \
            "subjectAltName=IP:127.0.0.1,DNS:localhost" >server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
            -CAcreateserial -days 3650 -sha256 -extfile server.ext \
            -out server.pem 2>/dev/null
        rm -f server.csr server.ext
        chmod 644 ca.pem server.pem
    ) || die "could not create the TLS certificates in $TLSD"
}

launch() { # NAME CMD...
    local name=$1
    shift
    echo "=== $(date -u +%FT%TZ) start: $*" >>"$LOGD/$name.log"
    setsid "$@" </dev/null >>"$LOGD/$name.log" 2>&1 &
    echo $! >"$(pidfile "$name")"
}

# probe TIMEOUT: waits until memcached and the storage servers listen (the
# proxy is not asked anything before, so that it does not count refused
# connections as node errors and error-limit a node for a minute), then
# sends a bucket PUT and HEAD with boto3 until they work; fails fast if a
# server process dies.
probe() {
    local pids=() name pid
    for name in "${PROCS[@]}"; do
        if pid=$(running_pid "$name"); then pids+=("$name=$pid"); fi
    done
    local args=("$1" "$BUCKET" "$(IFS=,; echo "${pids[*]}")"
        "$MC_PORT,$ACC_PORT,$CONT_PORT,$OBJ_PORT" "http://127.0.0.1:$S3_PORT")
    [ "$TLS" = 1 ] && args+=("https://127.0.0.1:$TLS_PORT" "$TLSD/ca.pem")
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
        NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost \
        "$PY" - "${args[@]}" <<'EOF'
import os, socket, sys, time
try:
    import boto3, botocore.config, botocore.exceptions as bex
except ImportError as e:
    sys.exit('s3-server: %s: %s; run tools/setup.sh (python3-boto3)' % (sys.executable, e))
timeout, bucket, pids, ports, eps = (float(sys.argv[1]), sys.argv[2], sys.argv[3],
                                     sys.argv[4], sys.argv[5:])
pids = dict((int(p.split('=')[1]), p.split('=')[0]) for p in pids.split(',') if p)
deadline = time.monotonic() + timeout
cfg = botocore.config.Config(signature_version='s3v4', s3={'addressing_style': 'path'},
                             retries={'total_max_attempts': 1}, connect_timeout=2, read_timeout=10)
def client(url, verify=None):
    return boto3.client('s3', endpoint_url=url, region_name='us-east-1', config=cfg,
                        aws_access_key_id='test:tester', aws_secret_access_key='testing',
                        verify=verify)
def dead():
    out = []
    for p in pids:
        try:
            with open('/proc/%d/stat' % p) as f:
                if f.read().rsplit(')', 1)[1].split()[0] in 'ZX':
                    out.append('%s (pid %d)' % (pids[p], p))
        except OSError:
            out.append('%s (pid %d)' % (pids[p], p))
    return ', '.join(out)
for port in ports.split(','):
    while True:
        if dead():
            sys.exit('s3-server: exited during start-up: %s' % dead())
        try:
            socket.create_connection(('127.0.0.1', int(port)), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                sys.exit('s3-server: nothing listens on 127.0.0.1:%s after %ss' % (port, timeout))
            time.sleep(0.05)
last = None
c = client(eps[0])
while True:
    if dead():
        sys.exit('s3-server: exited during start-up: %s' % dead())
    try:
        try:
            c.create_bucket(Bucket=bucket)
        except bex.ClientError as e:
            if e.response['Error']['Code'] != 'BucketAlreadyOwnedByYou':
                raise
        c.head_bucket(Bucket=bucket)
        break
    except Exception as e:  # connection refused, 503 while servers come up
        last = e
        if time.monotonic() > deadline:
            sys.exit('s3-server: no successful S3 request within %ss; last error: %r'
                     % (timeout, last))
        time.sleep(0.2)
if len(eps) > 1:  # TLS front: same bucket through HTTPS, verified with our CA
    t = client(eps[1], verify=eps[2])
    while True:
        try:
            t.head_bucket(Bucket=bucket)
            break
        except Exception as e:
            if dead():
                sys.exit('s3-server: exited during start-up: %s' % dead())
            if time.monotonic() > deadline:
                sys.exit('s3-server: HTTPS endpoint %s not working: %r' % (eps[1], e))
            time.sleep(0.2)
EOF
}

write_state() {
    local tmp=$STATE.tmp
    {
        echo "export STORAGE_TYPE=s3"
        echo "export S3_ACCESS_KEY=test:tester"
        echo "export S3_SECRET_KEY=testing"
        echo "export S3_BUCKET=$BUCKET"
        echo "export S3_REGION=us-east-1"
        echo "export S3_ENDPOINT_URL=http://127.0.0.1:$S3_PORT"
        if [ "$TLS" = 1 ]; then
            echo "export DOCSTORE_TEST_S3_TLS_ENDPOINT=https://127.0.0.1:$TLS_PORT"
            echo "export DOCSTORE_TEST_S3_CA_BUNDLE=$TLSD/ca.pem"
        fi
        echo "export DOCSTORE_TEST_S3_DIR=$DIR"
        echo "export DOCSTORE_TEST_S3_PORT=$S3_PORT"
        echo "export DOCSTORE_TEST_S3_TLS_PORT=$TLS_PORT"
        echo "export DOCSTORE_TEST_SWIFT_OBJECT_PORT=$OBJ_PORT"
        echo "export DOCSTORE_TEST_SWIFT_CONTAINER_PORT=$CONT_PORT"
        echo "export DOCSTORE_TEST_SWIFT_ACCOUNT_PORT=$ACC_PORT"
        echo "export DOCSTORE_TEST_MEMCACHED_PORT=$MC_PORT"
    } >"$tmp"
    mv -f "$tmp" "$STATE"
}

cmd_start() {
    local t0 name p var timeout=${DOCSTORE_TEST_S3_START_TIMEOUT:-60}
    t0=$(date +%s.%N)
    for p in swift-proxy-server swift-account-server swift-container-server \
        swift-object-server memcached; do
        command -v "$p" >/dev/null ||
            die "$p not found: run tools/setup.sh (swift-proxy swift-account swift-container swift-object memcached)"
    done
    [ -x "$PY" ] || die "$PY not found: run tools/setup.sh (python3-boto3)"
    [ -r /etc/swift/swift.conf ] ||
        die "/etc/swift/swift.conf is missing (it comes with the swift package: apt-get install --reinstall swift)"

    resolve_ports
    # TLS: as asked, else as at the previous start of DIR, else off.
    TLS=${DOCSTORE_TEST_S3_TLS:-}
    if [ -z "$TLS" ]; then
        TLS=0
        if [ -n "$(state_get DOCSTORE_TEST_S3_TLS_ENDPOINT)" ]; then TLS=1; fi
    fi
    [ "$TLS" = 1 ] || TLS=0

    # Already fully up (same TLS mode)? Then just re-probe.
    local all=1
    for name in memcached account container object proxy; do
        running_pid "$name" >/dev/null || all=0
    done
    if running_pid proxy-tls >/dev/null; then
        [ "$TLS" = 1 ] || all=0
    else
        [ "$TLS" = 0 ] || all=0
    fi
    if [ "$all" = 1 ] && [ -f "$STATE" ]; then
        if probe "$timeout"; then
            write_state
            log "already running for $DIR (S3 at http://127.0.0.1:$S3_PORT)"
            return 0
        fi
    fi
    stop_all # leftovers of a partial or crashed start

    for var in S3_PORT OBJ_PORT CONT_PORT ACC_PORT MC_PORT; do
        p=${!var}
        if port_in_use "$p"; then
            die "127.0.0.1:$p is already in use by another process; pick other ports with DOCSTORE_TEST_S3_PORT, DOCSTORE_TEST_SWIFT_{OBJECT,CONTAINER,ACCOUNT}_PORT, DOCSTORE_TEST_MEMCACHED_PORT"
        fi
    done
    if [ "$TLS" = 1 ] && port_in_use "$TLS_PORT"; then
        die "127.0.0.1:$TLS_PORT is already in use; set DOCSTORE_TEST_S3_TLS_PORT"
    fi

    write_configs
    build_rings || die "could not build the Swift rings in $ETC"
    [ "$TLS" = 1 ] && make_certs

    local mcuser=()
    [ "$(id -u)" = 0 ] && mcuser=(-u root)
    echo "$MC_PORT" >"$RUN/memcached.port"
    launch memcached memcached "${mcuser[@]}" -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 64
    for name in account container object; do
        launch "$name" "swift-$name-server" "$ETC/$name.conf" -v
    done
    launch proxy swift-proxy-server "$ETC/proxy.conf" -v
    [ "$TLS" = 1 ] && launch proxy-tls swift-proxy-server "$ETC/proxy-tls.conf" -v

    if ! probe "$timeout"; then
        show_logs
        stop_all
        die "start failed (state kept in $DIR)"
    fi
    write_state
    log "ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s:" \
        "http://127.0.0.1:$S3_PORT$([ "$TLS" = 1 ] && echo " and https://127.0.0.1:$TLS_PORT"), bucket $BUCKET, state in $DIR"
}

cmd_stop() {
    if [ ! -d "$RUN" ]; then
        log "nothing to stop in $DIR"
        return 0
    fi
    stop_all
    log "stopped ($DIR)"
}

cmd_env() {
    [ -f "$STATE" ] || die "no server state in $DIR (run: $0 start $DIR)"
    cat "$STATE"
}

cmd_status() {
    local name rc=0
    for name in "${PROCS[@]}"; do
        if pid=$(running_pid "$name"); then
            echo "$name: running (pid $pid)"
        elif [ "$name" = proxy-tls ] && ! grep -q DOCSTORE_TEST_S3_TLS_ENDPOINT "$STATE" 2>/dev/null; then
            continue
        else
            echo "$name: stopped"
            rc=1
        fi
    done
    return $rc
}

# check: exercises the running server the way the tests rely on it: a real
# round trip, and that bad signatures and bad digests are refused. boto3 for
# the ordinary requests; a small SigV4 signer of its own for the requests that
# boto3 will not make (a signed but wrong x-amz-content-sha256 without
# Content-MD5, or none at all).
cmd_check() {
    cmd_env >/dev/null
    # shellcheck disable=SC1090
    . "$STATE"
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
        NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost "$PY" - <<'EOF'
import base64, datetime, hashlib, hmac, http.client, os, sys, urllib.parse, uuid
import boto3, botocore.config, botocore.exceptions as bex
E = os.environ
cfg = botocore.config.Config(signature_version='s3v4', s3={'addressing_style': 'path'},
                             retries={'total_max_attempts': 1})
def client(secret=E['S3_SECRET_KEY'], url=E['S3_ENDPOINT_URL'], verify=None):
    return boto3.client('s3', endpoint_url=url, region_name=E['S3_REGION'], config=cfg,
                        aws_access_key_id=E['S3_ACCESS_KEY'], aws_secret_access_key=secret,
                        verify=verify)
def raw_put(path, body, sha=None, send_sha=True, secret=E['S3_SECRET_KEY']):
    """PUT with a SigV4 header signature; returns 'STATUS CODE'."""
    u = urllib.parse.urlsplit(E['S3_ENDPOINT_URL'])
    now = datetime.datetime.now(datetime.timezone.utc)
    amzdate, day = now.strftime('%Y%m%dT%H%M%SZ'), now.strftime('%Y%m%d')
    sha = sha or hashlib.sha256(body).hexdigest()
    hdrs = {'host': u.netloc, 'x-amz-date': amzdate}
    if send_sha:
        hdrs['x-amz-content-sha256'] = sha
    signed = ';'.join(sorted(hdrs))
    creq = '\n'.join(['PUT', urllib.parse.quote(path), '',
                      ''.join('%s:%s\n' % (k, hdrs[k]) for k in sorted(hdrs)),
                      signed, sha])
    scope = '%s/%s/s3/aws4_request' % (day, E['S3_REGION'])
    sts = '\n'.join(['AWS4-HMAC-SHA256', amzdate, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ('AWS4' + secret).encode()
    for part in (day, E['S3_REGION'], 's3', 'aws4_request'):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    hdrs['Authorization'] = ('AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, '
                             'Signature=%s' % (E['S3_ACCESS_KEY'], scope, signed, sig))
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request('PUT', path, body=body, headers=hdrs)
    r = conn.getresponse()
    data = r.read().decode(errors='replace')
    conn.close()
    code = data.split('<Code>')[1].split('</Code>')[0] if '<Code>' in data else ''
    return ('%d %s' % (r.status, code)).strip()
ok = True
def expect(name, fn, want):
    global ok
    try:
        got = fn()
        got = got if isinstance(got, str) else 'success'
    except bex.ClientError as e:
        got = '%s %s' % (e.response['ResponseMetadata']['HTTPStatusCode'],
                         e.response['Error'].get('Code'))
    except Exception as e:
        got = type(e).__name__ + ': ' + str(e)[:80]
    good = got == want or (want != 'success' and got.startswith(want))
    ok &= good
    print('%-4s %-34s -> %s' % ('ok' if good else 'FAIL', name, got))
def same(a, b):
    if a != b:
        raise AssertionError('content differs')
c, b, k = client(), E['S3_BUCKET'], 'check-%s' % uuid.uuid4().hex
body = b'hello docstore'
path = '/%s/%s' % (b, k)
expect('PUT object (boto3)', lambda: c.put_object(Bucket=b, Key=k, Body=body), 'success')
expect('GET object (boto3)', lambda: same(c.get_object(Bucket=b, Key=k)['Body'].read(), body),
       'success')
expect('wrong secret: HEAD bucket', lambda: client('wrong').head_bucket(Bucket=b), '403')
expect('wrong secret: ListObjectsV2', lambda: client('wrong').list_objects_v2(Bucket=b),
       '403 SignatureDoesNotMatch')
expect('wrong secret: PUT (own signer)', lambda: raw_put(path + 'w', body, secret='wrong'),
       '403 SignatureDoesNotMatch')
bad_md5 = base64.b64encode(hashlib.md5(b'other').digest()).decode()
expect('wrong Content-MD5', lambda: c.put_object(Bucket=b, Key=k + 'm', Body=body,
                                                 ContentMD5=bad_md5), '400 BadDigest')
expect('PUT (own signer)', lambda: raw_put(path + 's', body), '200')
expect('wrong x-amz-content-sha256',
       lambda: raw_put(path + 'x', body, sha=hashlib.sha256(b'other').hexdigest()),
       '400 BadDigest')
expect('missing x-amz-content-sha256', lambda: raw_put(path + 'x', body, send_sha=False),
       '400 InvalidRequest')
expect('UNSIGNED-PAYLOAD', lambda: raw_put(path + 'u', body, sha='UNSIGNED-PAYLOAD'), '200')
def fetch(url):
    import urllib.request, urllib.error
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return '%d' % r.status
    except urllib.error.HTTPError as e:
        data = e.read().decode(errors='replace')
        code = data.split('<Code>')[1].split('</Code>')[0] if '<Code>' in data else ''
        return ('%d %s' % (e.code, code)).strip()
url = c.generate_presigned_url('get_object', Params={'Bucket': b, 'Key': k}, ExpiresIn=300)
expect('presigned GET', lambda: fetch(url), '200')
expect('tampered presigned GET', lambda: fetch(url.replace('X-Amz-Expires=300', 'X-Amz-Expires=301')),
       '403 SignatureDoesNotMatch')
expect('refused PUTs stored nothing', lambda: c.head_object(Bucket=b, Key=k + 'x'), '404')
for key in (k, k + 's', k + 'u'):
    c.delete_object(Bucket=b, Key=key)
if E.get('DOCSTORE_TEST_S3_TLS_ENDPOINT'):
    t = client(url=E['DOCSTORE_TEST_S3_TLS_ENDPOINT'], verify=E['DOCSTORE_TEST_S3_CA_BUNDLE'])
    expect('HTTPS, test CA, 127.0.0.1', lambda: t.head_bucket(Bucket=b), 'success')
    t2 = client(url=E['DOCSTORE_TEST_S3_TLS_ENDPOINT'].replace('127.0.0.1', 'localhost'),
                verify=E['DOCSTORE_TEST_S3_CA_BUNDLE'])
    expect('HTTPS, test CA, localhost', lambda: t2.head_bucket(Bucket=b), 'success')
    t3 = client(url=E['DOCSTORE_TEST_S3_TLS_ENDPOINT'],
                verify='/etc/ssl/certs/ca-certificates.crt')
    expect('HTTPS, system CAs only', lambda: t3.head_bucket(Bucket=b), 'SSLError')
print('s3-server check: %s' % ('all passed' if ok else 'FAILED'))
sys.exit(0 if ok else 1)
EOF
}

case $CMD in
    start) cmd_start ;;
    tls-start) DOCSTORE_TEST_S3_TLS=1 cmd_start ;;
    stop) cmd_stop ;;
    env) cmd_env ;;
    status) cmd_status ;;
    check) cmd_check ;;
    *) usage ;;
esac

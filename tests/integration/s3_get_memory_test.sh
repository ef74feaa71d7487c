#!/usr/bin/env bash
# The memory bound of S3 streamed reads, end to end: a 1 GiB document is
# stored on the S3 test server (Swift + s3api) with `docstore put` from a
# generator pipe, then read back with `docstore get` into a pipe that
# hashes it, under `prlimit --as` (the whole address space: heap,
# libraries, the window threads' stacks) capped at AS_LIMIT, with the
# default window settings (4 windows of 8 MiB).  The SHA-256 in and out
# must match.  A control shows the cap bites: the same get with windows of
# 128 MiB (4 x 128 MiB > the cap) fails.  The peak RSS and the client's
# CPU seconds of the get are printed (from /usr/bin/time), with one window
# at a time beside them; nothing is asserted on time.
# Run under tools/with-test-servers.sh (S3_* variables); without them it
# FAILS.
#   bash tests/integration/s3_get_memory_test.sh path/to/docstore [GiB]
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

DOCSTORE=${1:?usage: s3_get_memory_test.sh path/to/docstore [GiB]}
GIB=${2:-1}
case $DOCSTORE in /*) ;; *) DOCSTORE=$(pwd)/$DOCSTORE ;; esac
for v in S3_ENDPOINT_URL S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY; do
  if [ -z "${!v:-}" ]; then
    echo "FAIL: $v is not set: run under tools/with-test-servers.sh" >&2
    exit 1
  fi
done
export STORAGE_TYPE=s3
unset RSA_PUBLIC_KEY_PATH RSA_PRIVATE_KEY_PATH RSA_PRIVATE_KEY_PASSPHRASE \
  S3_DOWNLOAD_PART_SIZE S3_DOWNLOAD_CONCURRENCY DOCSTORE_LOG_LEVEL
AS_LIMIT=$((256 * 1024 * 1024))
BYTES=$((GIB * 1024 * 1024 * 1024))
T=$(mktemp -d /tmp/docstore-s3-stream-memory-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

. "$HERE/cli_lib.sh"

ok "keygen" keygen --bits 2048 --out-dir keys
export RSA_PUBLIC_KEY_PATH=$T/keys/public.pem RSA_PRIVATE_KEY_PATH=$T/keys/private.pem

head -c 1048576 /dev/urandom >block.bin
gen() { local i; for ((i = 0; i < BYTES / 1048576; i++)); do cat block.bin; done; }

# ------------------------------------------------------------- put
# Not capped: S3 puts may still go through the library's buffering adapter.
start=$SECONDS
gen | tee >(sha256sum | cut -d' ' -f1 >in.sha) |
  "$DOCSTORE" put --file-id big$$ --user-id mem --name big.bin - >path.txt 2>put.err
st=("${PIPESTATUS[@]}")
[ "${st[2]}" -eq 0 ] || fail "put of $GIB GiB: exit ${st[2]}: $(cat put.err)"
path=$(cat path.txt)
[ -n "$path" ] || fail "put: no path"
echo "put: $GIB GiB in $((SECONDS - start)) s"
for _ in $(seq 300); do [ -s in.sha ] && break; sleep 0.1; done

# get PREFIX [VAR=VALUE...]: `docstore get` of the document under the cap
# into sha256sum; PREFIX.sha, PREFIX.err, PREFIX.time (peak RSS in KiB,
# user and system CPU seconds, wall seconds); sets $get_rc.
get() {
  local prefix=$1
  shift
  env "$@" /usr/bin/time -o "$prefix.time" -f "%M %U %S %e" \
    prlimit --as=$AS_LIMIT "$DOCSTORE" get "$path" - 2>"$prefix.err" |
    sha256sum | cut -d' ' -f1 >"$prefix.sha"
  get_rc=${PIPESTATUS[0]}
}

report() {
  local prefix=$1 what=$2
  read -r rss user sys wall <"$prefix.time"
  awk -v w="$what" -v r="$rss" -v u="$user" -v s="$sys" -v e="$wall" -v g="$GIB" \
    'BEGIN { printf "%-34s peak RSS %6.1f MiB  CPU %5.2f s/GiB  wall %5.2f s/GiB  %6.1f MiB/s\n",
      w, r / 1024, (u + s) / g, e / g, g * 1024 / e }'
}

# ------------------------------------------------------------- get
get default
[ "$get_rc" -eq 0 ] || fail "get of $GIB GiB under --as=$AS_LIMIT: exit $get_rc: $(cat default.err)"
[ -s in.sha ] && [ "$(cat in.sha)" = "$(cat default.sha)" ] ||
  fail "SHA-256 differ: in $(cat in.sha 2>/dev/null), out $(cat default.sha)"
read -r rss _ <default.time
# 4 windows of 8 MiB, the reader's buffers, the libraries: far under the cap.
[ "$rss" -lt $((128 * 1024)) ] || fail "get: peak RSS $rss KiB, over 128 MiB"

get one S3_DOWNLOAD_CONCURRENCY=1
[ "$get_rc" -eq 0 ] || fail "get, one window at a time: exit $get_rc: $(cat one.err)"
[ "$(cat in.sha)" = "$(cat one.sha)" ] || fail "SHA-256 differ, one window at a time"

# ---------------------------------------------------------- control
get big S3_DOWNLOAD_PART_SIZE=128MiB S3_DOWNLOAD_CONCURRENCY=4
[ "$get_rc" -ne 0 ] || fail "control: 4 windows of 128 MiB fit under --as=$AS_LIMIT"
grep -q "DOCSTORE_ENOMEM" big.err || fail "control: not ENOMEM: $(cat big.err)"

echo "get of $GIB GiB from $S3_ENDPOINT_URL under --as=$AS_LIMIT:"
report default "4 windows of 8 MiB (default)"
report one "1 window of 8 MiB at a time"
"$DOCSTORE" rm "$path" >/dev/null 2>&1 || fail "rm $path"

cli_finish s3_stream_memory_test

#!/usr/bin/env bash
# The memory bound of a streamed upload to S3, end to end: GIB GiB (1 by
# default) go through `docstore put` from a generator pipe to the Swift +
# s3api test server, then back through `docstore get` into a pipe that
# hashes them.  Peak RSS of each process is measured (GNU time, %M); the
# put's, less a baseline (the same command storing 1 KiB), must stay under
# what the upload may hold:
#     multipart_threshold + part_size x (concurrency + 1)   (+ SLACK_MIB)
# whatever the object's size (the buffering adapter would hold the whole
# object).  The SHA-256 in and out must match; the put must leave no
# incomplete multipart upload.  The get runs under `prlimit --as` = 256 MiB
# with a peak RSS under 128 MiB (a stream holds download_concurrency x
# download_part_size); a control with windows of 128 MiB must fail under
# the same cap.  Prints the figures (peak RSS, CPU and wall per GiB of the
# get, also one window at a time); nothing is asserted on time.
# Run under tools/with-test-servers.sh (without S3_* it FAILS):
#   bash tests/integration/s3_stream_memory_test.sh path/to/docstore [GiB]
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

DOCSTORE=${1:?usage: s3_stream_memory_test.sh path/to/docstore [GiB]}
GIB=${2:-1}
case $DOCSTORE in /*) ;; *) DOCSTORE=$(pwd)/$DOCSTORE ;; esac
for v in S3_ENDPOINT_URL S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY; do
  if [ -z "${!v:-}" ]; then
    echo "FAIL: $v is not set: run under tools/with-test-servers.sh" >&2
    exit 1
  fi
done
[ -x /usr/bin/time ] || { echo "FAIL: /usr/bin/time (GNU time) is missing" >&2; exit 1; }
export STORAGE_TYPE=s3
unset RSA_PUBLIC_KEY_PATH RSA_PRIVATE_KEY_PATH RSA_PRIVATE_KEY_PASSPHRASE \
  S3_CA_BUNDLE S3_VERIFY_TLS DOCSTORE_LOG_LEVEL
# The upload's settings, stated (the defaults): the bound follows them.
THRESHOLD_MIB=16 PART_MIB=8 CONCURRENCY=4 SLACK_MIB=24
export S3_MULTIPART_THRESHOLD=$((THRESHOLD_MIB << 20))
export S3_MULTIPART_PART_SIZE=$((PART_MIB << 20))
export S3_MULTIPART_CONCURRENCY=$CONCURRENCY
BOUND_MIB=$((THRESHOLD_MIB + PART_MIB * (CONCURRENCY + 1)))
BYTES=$((GIB * 1024 * 1024 * 1024))
T=$(mktemp -d /tmp/docstore-s3-stream-memory-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

. "$HERE/cli_lib.sh"

ok "keygen" keygen --bits 2048 --out-dir keys
export RSA_PUBLIC_KEY_PATH=$T/keys/public.pem RSA_PRIVATE_KEY_PATH=$T/keys/private.pem

# The generator: a repeating 1 MiB random block, BYTES long.
head -c 1048576 /dev/urandom >block.bin
gen() { local i; for ((i = 0; i < BYTES / 1048576; i++)); do cat block.bin; done; }
rss() { tail -n 1 "$1"; } # KiB, the last line GNU time wrote

# ---------------------------------------------------------- baseline
head -c 1024 block.bin |
  /usr/bin/time -f %M -o base.rss "$DOCSTORE" put --file-id small --name s.bin - >base.path 2>base.err ||
  fail "baseline put: $(cat base.err)"
base=$(rss base.rss)

# ------------------------------------------------------------- put
start=$SECONDS
gen | tee >(sha256sum | cut -d' ' -f1 >in.sha) |
  /usr/bin/time -f %M -o put.rss "$DOCSTORE" put --file-id big --name big.bin - >path.txt 2>put.err
st=("${PIPESTATUS[@]}")
put_s=$((SECONDS - start))
[ "${st[0]}" -eq 0 ] && [ "${st[1]}" -eq 0 ] ||
  fail "put: the generator pipeline failed: ${st[*]}"
[ "${st[2]}" -eq 0 ] || fail "put of $GIB GiB: exit ${st[2]}: $(cat put.err)"
path=$(cat path.txt)
[ -n "$path" ] || fail "put: no path printed"
put_rss=$(rss put.rss)
grow_mib=$(((put_rss - base) / 1024))
echo "put: $GIB GiB in ${put_s} s; peak RSS $((put_rss / 1024)) MiB," \
  "baseline $((base / 1024)) MiB, growth $grow_mib MiB" \
  "(bound $BOUND_MIB MiB = ${THRESHOLD_MIB} + ${PART_MIB} x ($CONCURRENCY + 1), slack $SLACK_MIB)"
[ "$grow_mib" -le $((BOUND_MIB + SLACK_MIB)) ] ||
  fail "put: RSS grew by $grow_mib MiB, over $BOUND_MIB + $SLACK_MIB MiB"

ok "ls" ls "$path"
contains "$out" "$path" "ls shows the object"
size=$(awk -F'\t' 'NR == 1 {print $2}' "$out")
[ "${size:-0}" -gt "$BYTES" ] || fail "stored object: ${size:-?} bytes, not more than $BYTES"

# No incomplete upload left (boto3, Debian's python3-boto3).
/usr/bin/python3 - "$path" <<'EOF' >uploads.txt 2>uploads.err || fail "list uploads: $(cat uploads.err)"
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"],
                  aws_access_key_id=os.environ["S3_ACCESS_KEY"],
                  aws_secret_access_key=os.environ["S3_SECRET_KEY"],
                  region_name=os.environ.get("S3_REGION", "us-east-1"))
r = s3.list_multipart_uploads(Bucket=os.environ["S3_BUCKET"], Prefix=sys.argv[1])
print(len(r.get("Uploads", [])))
EOF
[ "$(cat uploads.txt)" = 0 ] || fail "incomplete uploads left: $(cat uploads.txt)"

# ------------------------------------------------------------- get
# Under `prlimit --as` (the whole address space: heap, libraries, the
# window threads' stacks), with the download defaults (4 windows of
# 8 MiB): a streamed read holds download_concurrency x download_part_size
# whatever the object's size.
AS_LIMIT=$((256 * 1024 * 1024))
unset S3_DOWNLOAD_PART_SIZE S3_DOWNLOAD_CONCURRENCY

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
    'BEGIN { printf "get, %-30s peak RSS %6.1f MiB  CPU %5.2f s/GiB  wall %5.2f s/GiB  %6.1f MiB/s\n",
      w, r / 1024, (u + s) / g, e / g, g * 1024 / e }'
}

get default
[ "$get_rc" -eq 0 ] || fail "get of $GIB GiB under --as=$AS_LIMIT: exit $get_rc: $(cat default.err)"
for _ in $(seq 300); do [ -s in.sha ] && break; sleep 0.1; done # the tee's hash
[ -s in.sha ] && [ "$(cat in.sha)" = "$(cat default.sha)" ] ||
  fail "SHA-256 differ: in $(cat in.sha 2>/dev/null), out $(cat default.sha)"
read -r get_rss _ <default.time
# 4 windows of 8 MiB, the reader's buffers, the libraries: far under 128 MiB.
[ "$get_rss" -lt $((128 * 1024)) ] || fail "get: peak RSS $get_rss KiB, over 128 MiB"

get one S3_DOWNLOAD_CONCURRENCY=1
[ "$get_rc" -eq 0 ] || fail "get, one window at a time: exit $get_rc: $(cat one.err)"
[ "$(cat in.sha)" = "$(cat one.sha)" ] || fail "SHA-256 differ, one window at a time"

# The control: 4 windows of 128 MiB cannot fit under the cap, so the cap is
# a real bound.
get big S3_DOWNLOAD_PART_SIZE=128MiB S3_DOWNLOAD_CONCURRENCY=4
[ "$get_rc" -ne 0 ] || fail "control: 4 windows of 128 MiB fit under --as=$AS_LIMIT"
grep -q "DOCSTORE_ENOMEM" big.err || fail "control: not ENOMEM: $(cat big.err)"

echo "get of $GIB GiB from $S3_ENDPOINT_URL under --as=$AS_LIMIT:"
report default "4 windows of 8 MiB (default)"
report one "1 window of 8 MiB at a time"

ok "rm" rm "$path"
ok "rm small" rm "$(cat base.path)"
cli_finish s3_stream_memory_test

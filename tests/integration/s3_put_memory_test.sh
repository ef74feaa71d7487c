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
# incomplete multipart upload.  Prints the figures.
# Run under tools/with-test-servers.sh (without S3_* it FAILS):
#   bash tests/integration/s3_put_memory_test.sh path/to/docstore [GiB]
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

DOCSTORE=${1:?usage: s3_put_memory_test.sh path/to/docstore [GiB]}
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
start=$SECONDS
/usr/bin/time -f %M -o get.rss "$DOCSTORE" get "$path" - 2>get.err |
  sha256sum | cut -d' ' -f1 >out.sha
st=("${PIPESTATUS[@]}")
[ "${st[0]}" -eq 0 ] || fail "get of $GIB GiB: exit ${st[0]}: $(cat get.err)"
echo "get: $GIB GiB in $((SECONDS - start)) s; peak RSS $(($(rss get.rss) / 1024)) MiB"
for _ in $(seq 300); do [ -s in.sha ] && break; sleep 0.1; done # the tee's hash
[ -s in.sha ] && [ "$(cat in.sha)" = "$(cat out.sha)" ] ||
  fail "SHA-256 differ: in $(cat in.sha 2>/dev/null), out $(cat out.sha)"

ok "rm" rm "$path"
ok "rm small" rm "$(cat base.path)"
cli_finish s3_stream_memory_test

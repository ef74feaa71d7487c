#!/usr/bin/env bash
# The memory bound of streaming, end to end: 2 GiB go through
# `docstore put` from a generator pipe and back through `docstore get` into
# a pipe that hashes them, each process under `prlimit --as` (its whole
# address space, heap, libraries and stacks, capped at AS_LIMIT), on local
# storage.  The SHA-256 of what went in and what came out must match and
# every process of both pipelines must exit 0.  A control shows the cap
# bites: a format 1 (whole-buffer) encryption of 300 MB fails under it.
#   bash tests/integration/stream_memory_test.sh path/to/docstore [GiB]
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

DOCSTORE=${1:?usage: stream_memory_test.sh path/to/docstore [GiB]}
GIB=${2:-2}
case $DOCSTORE in /*) ;; *) DOCSTORE=$(pwd)/$DOCSTORE ;; esac
AS_LIMIT=$((256 * 1024 * 1024))
BYTES=$((GIB * 1024 * 1024 * 1024))
T=$(mktemp -d /tmp/docstore-stream-memory-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

. "$HERE/cli_lib.sh"
cli_isolate # nothing from the caller's environment

need=$((BYTES / 1024 + 1024 * 1024)) # KiB: the stored object, and a margin
avail=$(df -Pk "$T" | awk 'NR == 2 {print $4}')
if [ "$avail" -lt "$need" ]; then
  fail "only ${avail} KiB free in $T; the test needs ${need} KiB"
  cli_finish stream_memory_test
fi

ok "keygen" keygen --bits 2048 --out-dir keys
export RSA_PUBLIC_KEY_PATH=$T/keys/public.pem RSA_PRIVATE_KEY_PATH=$T/keys/private.pem

# The generator: a repeating 1 MiB random block (not all zeros, so that a
# segment mix-up would change the hash), BYTES long.
head -c 1048576 /dev/urandom >block.bin
gen() { local i; for ((i = 0; i < BYTES / 1048576; i++)); do cat block.bin; done; }

# ------------------------------------------------------------- put
start=$SECONDS
gen | tee >(sha256sum | cut -d' ' -f1 >in.sha) |
  prlimit --as=$AS_LIMIT "$DOCSTORE" put --file-id big --name big.bin - >path.txt 2>put.err
st=("${PIPESTATUS[@]}")
[ "${st[0]}" -eq 0 ] && [ "${st[1]}" -eq 0 ] ||
  fail "put: the generator pipeline failed: ${st[*]}"
[ "${st[2]}" -eq 0 ] || fail "put of $GIB GiB under --as=$AS_LIMIT: exit ${st[2]}: $(cat put.err)"
path=$(cat path.txt)
[ -n "$path" ] && [ -f "$LOCAL_STORAGE_PATH/$path" ] || fail "put: no stored object ('$path')"
size=$(stat -c %s "$LOCAL_STORAGE_PATH/$path" 2>/dev/null || echo 0)
[ "$size" -gt "$BYTES" ] || fail "put: the stored object has $size bytes, less than $BYTES"
[ "$size" -le $((BYTES + BYTES / 1000 + 262144)) ] ||
  fail "put: the stored object has $size bytes: more than 0.1% + a header over $BYTES"
echo "put: $GIB GiB in $((SECONDS - start)) s under --as=$AS_LIMIT"

# ------------------------------------------------------------- get
start=$SECONDS
prlimit --as=$AS_LIMIT "$DOCSTORE" get "$path" - 2>get.err |
  sha256sum | cut -d' ' -f1 >out.sha
st=("${PIPESTATUS[@]}")
[ "${st[0]}" -eq 0 ] || fail "get of $GIB GiB under --as=$AS_LIMIT: exit ${st[0]}: $(cat get.err)"
for _ in $(seq 300); do [ -s in.sha ] && break; sleep 0.1; done # the tee's hash
[ -s in.sha ] && [ "$(cat in.sha)" = "$(cat out.sha)" ] ||
  fail "SHA-256 differ: in $(cat in.sha 2>/dev/null), out $(cat out.sha)"
echo "get: $GIB GiB in $((SECONDS - start)) s under --as=$AS_LIMIT"
rm -rf "$LOCAL_STORAGE_PATH"

# ---------------------------------------------------------- control
# The whole-buffer path (format 1 holds the document and its base64 in
# memory) cannot stay under the same cap: the cap is a real bound.
head -c 300000000 /dev/zero |
  prlimit --as=$AS_LIMIT "$DOCSTORE" encrypt --format 1 - - >/dev/null 2>v1.err
st=("${PIPESTATUS[@]}")
[ "${st[1]}" -ne 0 ] || fail "control: a 300 MB format 1 encryption fit under --as=$AS_LIMIT"
head -c 300000000 /dev/zero |
  prlimit --as=$AS_LIMIT "$DOCSTORE" encrypt - - | wc -c >v2.len
st=("${PIPESTATUS[@]}")
[ "${st[1]}" -eq 0 ] || fail "control: a 300 MB format 2 encryption failed under --as=$AS_LIMIT"

cli_finish stream_memory_test

#!/usr/bin/env bash
# S3 streaming benchmark (issue 10), all figures from ONE run against one
# S3 server: a SIZE document stored and read back
#   - through the CLI, `docstore put` (encrypts, envelope v2, and streams to
#     S3) and `docstore get` (streams from S3 and decrypts), file to file;
#   - through boto3's transfer manager (bench/s3_reference.py --upload-file
#     / --download-file: upload_file / download_file, default
#     TransferConfig: 8 MiB parts, 10 threads), plaintext, file to file;
# each process timed whole by /usr/bin/time (the same measure for both):
# peak RSS, client CPU seconds (user + sys) per GiB, wall time, and the
# ratios docstore / boto3.  Also, for reading the CPU figures: the CPU of
# `docstore encrypt` / `decrypt` of the same file without any network (the
# envelope's share of put / get), and of a process that only starts
# (`docstore version`; python3 importing boto3 and making a client).
#
# Usage (under tools/with-test-servers.sh, or with STORAGE_TYPE=s3 and the
# S3_* variables of a real bucket):
#   bash bench/stream/s3_bench.sh --cli build/docstore
#        [--reference bench/s3_reference.py] [--size-mib 1024] [--dir /tmp]
#        [--repeat 1] [--quick]
# --quick: 64 MiB (a smoke run: the numbers mean little).  --repeat N: each
# transfer N times, the run with the least CPU kept (the machine is
# shared).  Needs /usr/bin/time, openssl, Debian's /usr/bin/python3 with
# python3-boto3, and 3x SIZE free in --dir.  Every object it writes is
# deleted.  Exit status 0 when every measurement ran; a transfer that fails
# is shown as FAILED with its message (and the exit status is 1).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)

CLI= REF=$TOP/bench/s3_reference.py SIZE_MIB=1024 DIR=/tmp REPEAT=1
while [ $# -gt 0 ]; do
  case $1 in
  --cli) CLI=$2; shift 2 ;;
  --reference) REF=$2; shift 2 ;;
  --size-mib) SIZE_MIB=$2; shift 2 ;;
  --dir) DIR=$2; shift 2 ;;
  --repeat) REPEAT=$2; shift 2 ;;
  --quick) SIZE_MIB=64; shift ;;
  *) echo "s3_bench: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -x "$CLI" ] || { echo "s3_bench: --cli path/to/docstore is required" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "s3_bench: needs /usr/bin/time (Debian package time)" >&2; exit 2; }
/usr/bin/python3 -c 'import boto3' 2>/dev/null ||
  { echo "s3_bench: needs /usr/bin/python3 with python3-boto3" >&2; exit 2; }
for v in S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY; do
  [ -n "${!v:-}" ] || { echo "s3_bench: $v is not set (run under tools/with-test-servers.sh)" >&2; exit 2; }
done
CLI=$(readlink -f "$CLI") REF=$(readlink -f "$REF")
SIZE=$((SIZE_MIB * 1048576))

W=$(mktemp -d "$DIR/docstore-s3-bench-XXXXXX")
cleanup() {
  [ -z "${DOC_PATH:-}" ] || "$CLI" rm "$DOC_PATH" >/dev/null 2>&1 || true
  /usr/bin/python3 "$REF" --delete "$BOTO_KEY" >/dev/null 2>&1 || true
  rm -rf "$W"
}
BOTO_KEY=bench/s3-bench-boto3-$$.bin
trap cleanup EXIT
avail=$(df -Pk "$W" | awk 'NR == 2 {print $4}')
[ "$avail" -gt $((SIZE / 1024 * 3)) ] ||
  { echo "s3_bench: $DIR has ${avail} KiB free; needs $((SIZE / 1024 * 3)) KiB" >&2; exit 1; }
cd "$W"
# Only the S3 settings of the caller; no keys, no other docstore setting.
while IFS= read -r name; do unset "$name"; done < <(
  env | sed -n 's/^\(LOCAL_STORAGE_PATH\|RSA_[A-Z_]*\|DOCSTORE_[A-Z_]*\)=.*/\1/p')
export STORAGE_TYPE=s3
ME=s3_bench
. "$HERE/bench_lib.sh"
bench_keys "$W"
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

# measure NAME CMD...: CMD run REPEAT times under /usr/bin/time; keeps the
# run with the least CPU in $NAME.time ("maxrss_kib elapsed_s user_s
# sys_s") and its stdout in $NAME.out; a failure leaves $NAME.err.
FAILED=0
measure() {
  local name=$1 i best= line
  shift
  rm -f "$name.time" "$name.err"
  for ((i = 0; i < REPEAT; i++)); do
    if ! /usr/bin/time -f "%M %e %U %S" -o "$name.run" "$@" >"$name.stdout" 2>"$name.stderr"; then
      cp "$name.stderr" "$name.err"
      FAILED=1
      return 1
    fi
    line=$(tail -1 "$name.run")
    if [ -z "$best" ] || awk -v a="$line" -v b="$best" 'BEGIN {
        split(a, x, " "); split(b, y, " "); exit !(x[3] + x[4] < y[3] + y[4]) }'; then
      best=$line
      cp "$name.stdout" "$name.out"
    fi
  done
  echo "$best" >"$name.time"
}

# row LABEL NAME [once]: one line of the table from $NAME.time; "once":
# a process that moves nothing, its CPU in seconds (not per GiB).
row() {
  local label=$1 name=$2 once=${3:-} rss el u s
  if [ -f "$name.err" ]; then
    printf '%-40s FAILED: %s\n' "$label" "$(grep -v '^\s*$' "$name.err" | tail -1)"
    return
  fi
  read -r rss el u s <"$name.time"
  awk -v l="$label" -v rss="$rss" -v el="$el" -v u="$u" -v s="$s" -v size="$SIZE" -v once="$once" 'BEGIN {
    g = size / 1073741824
    if (once != "")
      printf "%-40s %10.1f %8.2f s %10.2f\n", l, rss / 1024, u + s, el
    else
      printf "%-40s %10.1f %10.2f %10.2f %10.1f\n", l, rss / 1024, (u + s) / g, el, size / 1048576 / (el > 0 ? el : 1) }'
}

# ratio LABEL A B: docstore A against boto3 B, peak RSS and CPU.
ratio() {
  local label=$1 a=$2 b=$3
  if [ -f "$a.err" ] || [ -f "$b.err" ]; then
    printf '%-40s not measured (a transfer failed)\n' "$label"
    return
  fi
  read -r ra _ ua sa <"$a.time"
  read -r rb _ ub sb <"$b.time"
  awk -v l="$label" -v ra="$ra" -v rb="$rb" -v ca="$(awk -v u="$ua" -v s="$sa" 'BEGIN {print u + s}')" \
    -v cb="$(awk -v u="$ub" -v s="$sb" 'BEGIN {print u + s}')" 'BEGIN {
    printf "%-40s peak RSS %6.2fx   CPU %6.2fx\n", l, ra / rb, (cb > 0 ? ca / cb : 0) }'
}

echo "== docstore S3 streaming benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores)"
echo "   cli: $CLI ($("$CLI" version | head -1)); tree at $(git -C "$TOP" log -1 --format='%h %s' 2>/dev/null | cut -c1-70)"
echo "   server: ${S3_ENDPOINT_URL:-AWS} bucket $S3_BUCKET; document $SIZE_MIB MiB; best of $REPEAT"
echo "   docstore: S3_MULTIPART_THRESHOLD=${S3_MULTIPART_THRESHOLD:-16MiB} part ${S3_MULTIPART_PART_SIZE:-8MiB} x ${S3_MULTIPART_CONCURRENCY:-4};" \
  "download part ${S3_DOWNLOAD_PART_SIZE:-8MiB} x ${S3_DOWNLOAD_CONCURRENCY:-4}; checksum ${S3_CHECKSUM_ALGORITHM:-auto}"
echo "   boto3 $(/usr/bin/python3 -c 'import boto3; print(boto3.__version__)'): default TransferConfig (8 MiB parts, 10 threads)"

make_file "$SIZE" doc.bin
want=$(sha256sum <doc.bin | cut -d' ' -f1)

# -------------------------------------------------------------- transfers
measure put "$CLI" put --file-id s3bench --name doc.bin doc.bin || true
DOC_PATH=$( [ -f put.out ] && cat put.out || true)
if [ -n "$DOC_PATH" ]; then
  measure get "$CLI" get "$DOC_PATH" got.bin || true
  if [ -f got.bin ] && [ ! -f get.err ]; then
    [ "$(sha256sum <got.bin | cut -d' ' -f1)" = "$want" ] ||
      { echo "put/get: different bytes came back" >get.err; FAILED=1; }
  fi
  rm -f got.bin
else
  echo "no document stored (put failed)" >get.err
fi
measure boto_up /usr/bin/python3 "$REF" --upload-file doc.bin --key "$BOTO_KEY" || true
measure boto_down /usr/bin/python3 "$REF" --download-file boto.bin --key "$BOTO_KEY" || true
if [ -f boto.bin ] && [ ! -f boto_down.err ]; then
  [ "$(sha256sum <boto.bin | cut -d' ' -f1)" = "$want" ] ||
    { echo "boto3: different bytes came back" >boto_down.err; FAILED=1; }
fi
rm -f boto.bin

# ----------------------------------------------------- for reading the CPU
measure enc "$CLI" encrypt doc.bin doc.env || true
measure dec "$CLI" decrypt doc.env dec.bin || true
rm -f doc.env dec.bin
measure start_cli "$CLI" version || true
measure start_boto /usr/bin/python3 "$REF" --startup-only || true

echo
printf '%-40s %10s %10s %10s %10s\n' "$SIZE_MIB MiB, whole process" "peak MiB" "CPU s/GiB" "wall s" "MiB/s"
row "docstore put (encrypt + upload)" put
row "boto3 upload_file" boto_up
row "docstore get (download + decrypt)" get
row "boto3 download_file" boto_down
echo "  for reading the CPU figures:"
row "docstore encrypt (no network)" enc
row "docstore decrypt (no network)" dec
row "docstore version (start only)" start_cli once
row "python3 + boto3 client (start only)" start_boto once
echo
echo "-- docstore / boto3 (below 1: docstore uses less)"
ratio "store" put boto_up
ratio "retrieve" get boto_down
echo
echo "== done"
exit "$FAILED"

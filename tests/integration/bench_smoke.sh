#!/usr/bin/env bash
# Smoke test of the benchmark program (not a speed test: no figure is
# judged).  Runs `docstore_bench --quick` and `--quick --json` and checks
# that both exit 0 and print every expected row.
#
#   bench_smoke.sh PATH/TO/docstore_bench
#   bench_smoke.sh PATH/TO/docstore_bench --s3 PATH/TO/s3_reference.py
#
# The --s3 form runs the S3 mode (small transfer) under
# tools/with-test-servers.sh and checks the boto3 reference figures are there.
set -euo pipefail

bench=${1:?usage: bench_smoke.sh PATH/TO/docstore_bench [--s3 REFERENCE]}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

if [ "${2:-}" = --s3 ]; then
  ref=${3:?usage: bench_smoke.sh BENCH --s3 REFERENCE}
  for v in S3_BUCKET S3_ENDPOINT_URL; do
    [ -n "${!v:-}" ] || { echo "FAIL: $v is not set: run under tools/with-test-servers.sh" >&2; exit 1; }
  done
  "$bench" --s3 --quick --size-mib 24 --reference "$ref" >"$tmp/s3.txt" || {
    cat "$tmp/s3.txt"; echo "FAIL: docstore_bench --s3 --quick exited non-zero" >&2; exit 1; }
  cat "$tmp/s3.txt"
  # each row: our figure, boto3's and a ratio (numbers, not n/a)
  num='[0-9]+(\.[0-9]+)?'
  for r in "store\+retrieve 4 KiB envelope \(ops/s\)" "upload 24 MiB \(MB/s\)" \
           "download 24 MiB \(MB/s\)"; do
    grep -Eq "^  $r +$num +$num +$num +$num +$num +$num " "$tmp/s3.txt" ||
      { echo "FAIL: no row '$r' with our, boto3's figures and ratios" >&2; fail=1; }
  done
  grep -Eq "^  (upload|download) 24 MiB \(MB/s\)( +[0-9.]+){9}$" "$tmp/s3.txt" ||
    { echo "FAIL: no peak RSS figures on the transfer rows" >&2; fail=1; }
  exit $fail
fi

rows=("encrypt 4 KiB" "decrypt 4 KiB" "encrypt 1 MiB" "decrypt 1 MiB"
      "encrypt 64 MiB" "decrypt 64 MiB" "wrap \(seal\)" "unwrap \(open\)"
      "store\+retrieve 4 KiB, fsync on" "store\+retrieve 4 KiB, fsync off")

# Temporary files of the local provider go to $tmp: nothing may be left.
TMPDIR=$tmp "$bench" --quick >"$tmp/table.txt" || {
  cat "$tmp/table.txt"; echo "FAIL: docstore_bench --quick exited non-zero" >&2; exit 1; }
cat "$tmp/table.txt"
for r in "${rows[@]}"; do
  # a row: its label, then at least one figure
  grep -Eq "^  $r +[0-9]" "$tmp/table.txt" ||
    { echo "FAIL: no row '$r' with a figure" >&2; fail=1; }
done
for h in "^openssl: OpenSSL" "openssl GCM +ratio" "openssl rsa2048"; do
  grep -Eq "$h" "$tmp/table.txt" || { echo "FAIL: no '$h' in the table" >&2; fail=1; }
done
# the openssl reference figures were parsed (a ratio, not n/a)
grep -Eq '^  encrypt 1 MiB +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ ' "$tmp/table.txt" ||
  { echo "FAIL: no openssl figure/ratio on the 'encrypt 1 MiB' row" >&2; fail=1; }
grep -Eq '^  unwrap \(open\) +[0-9.]+ +sign .* [0-9.]+ +[0-9.]+$' "$tmp/table.txt" ||
  { echo "FAIL: no openssl figure/ratio on the 'unwrap' row" >&2; fail=1; }
if [ -n "$(ls -A "$tmp" | grep -v '^table.txt$')" ]; then
  echo "FAIL: the benchmark left files in TMPDIR: $(ls -A "$tmp")" >&2; fail=1
fi

TMPDIR=$tmp "$bench" --quick --json >"$tmp/out.json" || {
  cat "$tmp/out.json"; echo "FAIL: docstore_bench --quick --json exited non-zero" >&2; exit 1; }
/usr/bin/python3 - "$tmp/out.json" <<'PY' || fail=1
import json, sys
doc = json.load(open(sys.argv[1]))
labels = [r["label"] for r in doc["rows"]]
want = ["encrypt 4 KiB", "decrypt 4 KiB", "encrypt 1 MiB", "decrypt 1 MiB",
        "encrypt 64 MiB", "decrypt 64 MiB", "wrap (seal)", "unwrap (open)",
        "store+retrieve 4 KiB, fsync on", "store+retrieve 4 KiB, fsync off"]
missing = [w for w in want if w not in labels]
bad = [r["label"] for r in doc["rows"] if not (r["value"] and r["value"] > 0)]
noref = [r["label"] for r in doc["rows"]
         if r["section"] in ("envelope", "rsa") and not r["ratio"]]
if doc["mode"] != "local" or missing or bad or noref:
    print("FAIL: json: mode=%s missing=%s no-figure=%s no-ratio=%s"
          % (doc["mode"], missing, bad, noref), file=sys.stderr)
    sys.exit(1)
print("json: %d rows, openssl %s" % (len(labels), doc["openssl"]["version"]))
PY

"$bench" --no-such-option >/dev/null 2>&1 && { echo "FAIL: a bad option was accepted" >&2; fail=1; }
exit $fail

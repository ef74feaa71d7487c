#!/usr/bin/env bash
# End-to-end test of the docstore CLI against the S3 test server (Swift +
# s3api, signature-checking).  Run under tools/with-test-servers.sh, which
# exports STORAGE_TYPE=s3 and the S3_* variables; without them it FAILS.
#   bash tests/integration/cli_s3_test.sh path/to/docstore
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

DOCSTORE=${1:?usage: cli_s3_test.sh path/to/docstore}
case $DOCSTORE in /*) ;; *) DOCSTORE=$(pwd)/$DOCSTORE ;; esac
for v in S3_ENDPOINT_URL S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY; do
  if [ -z "${!v:-}" ]; then
    echo "FAIL: $v is not set: run under tools/with-test-servers.sh" >&2
    exit 1
  fi
done
export STORAGE_TYPE=s3
unset RSA_PUBLIC_KEY_PATH RSA_PRIVATE_KEY_PATH RSA_PRIVATE_KEY_PASSPHRASE \
  S3_CA_BUNDLE S3_VERIFY_TLS DOCSTORE_LOG_LEVEL
T=$(mktemp -d /tmp/docstore-cli-s3-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

. "$HERE/cli_lib.sh"

ok "keygen" keygen --bits 2048 --out-dir keys
export RSA_PUBLIC_KEY_PATH=$T/keys/public.pem RSA_PRIVATE_KEY_PATH=$T/keys/private.pem

# check: one line each, all OK.
ok "check" check
contains "$out" "reachability: OK" "check reachability"
contains "$out" "credentials: OK" "check credentials"
contains "$out" "bucket: OK" "check bucket"

# config masks the secret and logs the seed's line with -v.
ok "config" config
contains "$out" "S3_SECRET_KEY=****" "config masks the secret"
lacks "$out" "S3_SECRET_KEY=$S3_SECRET_KEY" "config secret"
ok "-v check" -v check
contains "$err" "S3 storage initialized: bucket=$S3_BUCKET, endpoint=$S3_ENDPOINT_URL" "init log line"
lacks "$err" "$S3_SECRET_KEY" "log secret"

# put / ls / get / url / rm
head -c 300000 /dev/urandom >doc.bin
ok "put" put --file-id "cli$$" --user-id 321 --name "scan 1.pdf" doc.bin
path=$(cat "$out")
echo "$path" | grep -Eq "^documents/user_321/[0-9/]{10}/cli$$_scan" || fail "put path: $path"
ok "ls" ls documents/user_321/
contains "$out" "$path	" "ls lists the document"
ok "get" get "$path" back.bin
cmp -s doc.bin back.bin || fail "get: bytes differ"
ok "get --raw" get --raw "$path" envelope.json
ok "url" url --hours 1 "$path"
url=$(cat "$out")
curl -sf -o fetched.json "$url" || fail "curl of the presigned URL failed"
cmp -s envelope.json fetched.json || fail "presigned GET: bytes differ"
ok "url --put" url --put "documents/cli-upload-$$.json"
curl -sf -T envelope.json "$(cat "$out")" -o /dev/null || fail "curl PUT to the presigned URL failed"
ok "get --raw uploaded" get --raw "documents/cli-upload-$$.json" uploaded.json
cmp -s envelope.json uploaded.json || fail "presigned PUT: bytes differ"
bad "url over 7 days" 2 DOCSTORE_EINVAL url --hours 169 "$path"
ok "url --seconds" url --seconds 90 "$path"
grep -q 'X-Amz-Expires=90&' "$out" || fail "url --seconds 90: not a 90-second URL"
ok "url --hours then --seconds" url --hours 2 --seconds 600 "$path"
grep -q 'X-Amz-Expires=600&' "$out" || fail "url: the last of --hours/--seconds does not count"
bad "url --seconds over 7 days" 2 DOCSTORE_EINVAL url --seconds 604801 "$path"
bad "url --seconds 0" 2 DOCSTORE_EINVAL url --seconds 0 "$path"
ok "rm" rm "$path" "documents/cli-upload-$$.json"
bad "get after rm" 4 DOCSTORE_ENOTFOUND get "$path" gone.bin

# Failures: wrong secret, unknown bucket, nothing listening.
S3_SECRET_KEY=wrong-secret bad "wrong secret" 7 DOCSTORE_EACCESS check
contains "$out" "credentials: FAILED" "wrong secret report"
lacks "$err" "wrong-secret" "wrong secret not echoed"
S3_BUCKET=no-such-bucket-$$ bad "unknown bucket" 7 DOCSTORE_ENOBUCKET check
S3_ENDPOINT_URL=http://127.0.0.1:1 S3_MAX_ATTEMPTS=1 bad "nothing listening" 7 DOCSTORE_ECONNECT check
contains "$out" "reachability: FAILED" "unreachable report"

# Graceful fallback: storage down, the legacy file is read, with a warning.
mkdir -p legacy && cp envelope.json legacy/old.json
S3_ENDPOINT_URL=http://127.0.0.1:1 S3_MAX_ATTEMPTS=1 DOCSTORE_LEGACY_ROOT=$T/legacy \
  run get --fallback old.json "$path" fb.bin
[ "$rc" -eq 0 ] || fail "fallback: exit $rc: $(cat "$err")"
contains "$err" "falling back to local" "fallback warning"
cmp -s doc.bin fb.bin || fail "fallback: bytes differ"

# TLS front (with-test-servers.sh serves one with its own CA).
if [ -n "${DOCSTORE_TEST_S3_TLS_ENDPOINT:-}" ] && [ -n "${DOCSTORE_TEST_S3_CA_BUNDLE:-}" ]; then
  S3_ENDPOINT_URL=$DOCSTORE_TEST_S3_TLS_ENDPOINT S3_MAX_ATTEMPTS=1 \
    bad "TLS without the CA" 7 DOCSTORE_ECONNECT check
  S3_ENDPOINT_URL=$DOCSTORE_TEST_S3_TLS_ENDPOINT S3_CA_BUNDLE=$DOCSTORE_TEST_S3_CA_BUNDLE \
    ok "TLS with S3_CA_BUNDLE" check
  S3_ENDPOINT_URL=$DOCSTORE_TEST_S3_TLS_ENDPOINT S3_VERIFY_TLS=false \
    ok "TLS with S3_VERIFY_TLS=false" check
  contains "$err" "TLS" "S3_VERIFY_TLS=false warns"
  S3_ENDPOINT_URL=$DOCSTORE_TEST_S3_TLS_ENDPOINT S3_CA_BUNDLE=$T/missing.pem \
    bad "missing CA bundle" 3 DOCSTORE_ECONFIG check
  contains "$err" "S3_CA_BUNDLE" "missing CA bundle names the variable"
else
  fail "DOCSTORE_TEST_S3_TLS_ENDPOINT / DOCSTORE_TEST_S3_CA_BUNDLE not set"
fi

cli_finish cli_s3_test

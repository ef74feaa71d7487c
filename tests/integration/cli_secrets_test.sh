#!/usr/bin/env bash
# No secret on the CLI's standard output or error: `docstore -v -v` (debug
# logging) against the S3 test server with an S3 secret, a session token
# and a passphrase-protected private key in the environment, through
# keygen, config, check, put (one multipart), ls, get, url, rm, encrypt /
# decrypt, a wrong secret (SignatureDoesNotMatch), a wrong passphrase and a
# fallback.  Nothing printed may hold the secrets, the token, the
# passphrases, an Authorization header or a signature, the private key or
# the SigV4 signing key in hex.  Also: decrypted output is written 0600.
# Run under tools/with-test-servers.sh; without the S3_* variables it FAILS.
#   bash tests/integration/cli_secrets_test.sh path/to/docstore
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

DOCSTORE=${1:?usage: cli_secrets_test.sh path/to/docstore}
case $DOCSTORE in /*) ;; *) DOCSTORE=$(pwd)/$DOCSTORE ;; esac
for v in S3_ENDPOINT_URL S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY; do
  if [ -z "${!v:-}" ]; then
    echo "FAIL: $v is not set: run under tools/with-test-servers.sh" >&2
    exit 1
  fi
done
export STORAGE_TYPE=s3 S3_REGION=${S3_REGION:-us-east-1}
unset S3_CA_BUNDLE S3_VERIFY_TLS DOCSTORE_LOG_LEVEL AWS_SECRET_ACCESS_KEY \
  AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID
T=$(mktemp -d /tmp/docstore-cli-secrets-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

. "$HERE/cli_lib.sh"

REAL_SECRET=$S3_SECRET_KEY
WRONG_SECRET=Wr0ngCliSecret-Pq7Zx-41b8e2
export S3_SESSION_TOKEN=IQoJCliSessionToken-Rt5Yu8-90ac31
export RSA_PRIVATE_KEY_PASSPHRASE="cli passphrase Mn4Bv6-stapler"
WRONG_PASS="cli wrong passphrase-Xc2Lk9"
export S3_MULTIPART_THRESHOLD=5MiB S3_MULTIPART_PART_SIZE=5MiB
export S3_MAX_ATTEMPTS=2 S3_RETRY_BASE_MS=10 S3_RETRY_MAX_MS=20

# Everything the CLI printed, to be searched at the end.
seen=$T/seen.txt
: >"$seen"
keep() { cat "$out" "$err" >>"$seen"; }
keep_err() { cat "$err" >>"$seen"; }
# v OK|STATUS DESC ARGS...: `docstore -v -v ARGS`, expecting success (OK)
# or the exit status; stdout and stderr are kept.
v() {
  local want=$1 desc=$2; shift 2
  run -v -v "$@"
  if [ "$want" = OK ]; then
    [ "$rc" -eq 0 ] || fail "$desc: exit $rc: $(cat "$err")"
  else
    [ "$rc" -eq "$want" ] || fail "$desc: exit $rc, expected $want: $(cat "$err")"
  fi
  keep
}

v OK "keygen" keygen --bits 2048 --out-dir keys
export RSA_PUBLIC_KEY_PATH=$T/keys/public.pem RSA_PRIVATE_KEY_PATH=$T/keys/private.pem
grep -q "ENCRYPTED PRIVATE KEY" keys/private.pem || fail "keygen: the key is not encrypted"

v OK "config" config
contains "$out" "S3_SESSION_TOKEN=****" "config masks the token"
v OK "check" check
contains "$out" "credentials: OK" "check"

head -c 300000 /dev/urandom >doc.bin
# Over the 5 MiB threshold as a format 2 envelope (about the plaintext size;
# format 1 added a third).
head -c $((6 * 1024 * 1024 + 99)) /dev/urandom >big.bin
v OK "put" put --file-id "sec$$" --user-id 77 --name "scan.pdf" doc.bin
path=$(cat "$out")
v OK "put (multipart)" put --file-id "secbig$$" --user-id 77 --name "big.pdf" big.bin
big_path=$(cat "$out")
contains "$err" "multipart upload" "the big put went multipart"
v OK "ls" ls documents/user_77/
v OK "get" get "$path" back.bin
cmp -s doc.bin back.bin || fail "get: bytes differ"
mode_is back.bin 600
v OK "get (multipart)" get "$big_path" bigback.bin
cmp -s big.bin bigback.bin || fail "get (multipart): bytes differ"
v OK "get --raw" get --raw "$path" envelope.json

# url: the URL (stdout) carries a signature and the token by design; the
# log on stderr must carry neither.
run -v -v url --hours 1 "$path"
[ "$rc" -eq 0 ] || fail "url: exit $rc: $(cat "$err")"
keep_err
url=$(cat "$out")
sig=$(printf '%s' "$url" | sed -n 's/.*[?&]X-Amz-Signature=\([0-9a-f]*\).*/\1/p')
[ "${#sig}" -eq 64 ] || fail "url: no signature in '$url'"
curl -sf -o fetched.json "$url" || fail "curl of the presigned URL failed"
cmp -s envelope.json fetched.json || fail "presigned GET: bytes differ"

# encrypt / decrypt with the passphrase from the environment, and wrong.
v OK "encrypt" encrypt --file-id "sec$$" doc.bin doc.env
export OTHER_PASS=$WRONG_PASS
v 6 "decrypt, wrong passphrase" decrypt --passphrase-env OTHER_PASS doc.env x.bin
contains "$err" "passphrase" "wrong passphrase message"
[ ! -e x.bin ] || fail "decrypt with a wrong passphrase wrote its output"
RSA_PRIVATE_KEY_PASSPHRASE=$WRONG_PASS v 6 "get, wrong passphrase" get "$path" y.bin
v OK "decrypt" decrypt --file-id "sec$$" doc.env plain.bin
cmp -s doc.bin plain.bin || fail "decrypt: bytes differ"
mode_is plain.bin 600

# A wrong secret: SignatureDoesNotMatch everywhere.
export S3_SECRET_KEY=$WRONG_SECRET
v 7 "check, wrong secret" check
contains "$out" "credentials: FAILED" "wrong secret report"
contains "$err" "SignatureDoesNotMatch" "wrong secret message"
v 7 "put, wrong secret" put --file-id "secw$$" --name "w.pdf" doc.bin
v 7 "put (multipart), wrong secret" put --file-id "secwb$$" --name "w.pdf" big.bin
v 7 "get, wrong secret" get "$path" z.bin
v 7 "ls, wrong secret" ls documents/user_77/
v 7 "rm, wrong secret" rm "$path"
mkdir -p legacy && cp envelope.json legacy/old.json
DOCSTORE_LEGACY_ROOT=$T/legacy v OK "fallback, wrong secret" get --fallback old.json "$path" fb.bin
contains "$err" "falling back to local" "fallback warning"
cmp -s doc.bin fb.bin || fail "fallback: bytes differ"
mode_is fb.bin 600
export S3_SECRET_KEY=$REAL_SECRET

v OK "rm" rm "$path" "$big_path"

# ------------------------------------------------------------- checks
hmac_hex() { # KEYSPEC MESSAGE -> hex
  printf '%s' "$2" | openssl dgst -sha256 -mac HMAC -macopt "$1" | sed 's/^.*= //'
}
signing_key() { # SECRET DAY -> hex
  local k
  k=$(hmac_hex "key:AWS4$1" "$2")
  k=$(hmac_hex "hexkey:$k" "$S3_REGION")
  k=$(hmac_hex "hexkey:$k" s3)
  hmac_hex "hexkey:$k" aws4_request
}
needles=("$REAL_SECRET" "$WRONG_SECRET" "$S3_SESSION_TOKEN"
  "$RSA_PRIVATE_KEY_PASSPHRASE" "$WRONG_PASS" "$sig")
for d in -1 0 1; do
  day=$(date -u -d "$d day" +%Y%m%d)
  needles+=("$(signing_key "$REAL_SECRET" "$day")" "$(signing_key "$WRONG_SECRET" "$day")")
done
while IFS= read -r line; do
  [ "${#line}" -eq 64 ] && needles+=("$line")
done < <(grep -v -- ----- keys/private.pem)
[ "${#needles[@]}" -gt 20 ] || fail "too few needles: ${#needles[@]}"

for n in "${needles[@]}"; do
  [ "${#n}" -ge 6 ] || { fail "needle too short: '$n'"; continue; }
  lacks "$seen" "$n" "secret value on the CLI's output"
done
for m in "X-Amz-Signature=" "Signature=" "AWS4-HMAC-SHA256" "StringToSign" \
  "CanonicalRequest" "SignatureProvided" "Authorization" "Security-Token" \
  "security-token" "PRIVATE KEY" "aws4_request"; do
  lacks "$seen" "$m" "marker on the CLI's output"
done
# A signature or signing key has the shape of 64 hex digits; key ids
# ("sha256:<hex>") are the only such runs allowed.
if grep -Eo '(sha256:)?[0-9a-fA-F]{64,}' "$seen" | grep -qv '^sha256:'; then
  fail "a 64-hex-digit run on the CLI's output: $(grep -Eo '(sha256:)?[0-9a-fA-F]{64,}' "$seen" | grep -v '^sha256:' | head -3)"
fi
# The run did log at debug level and did meet the failures.
[ "$(grep -c '^docstore: debug: ' "$seen")" -gt 20 ] || fail "too few debug lines"
contains "$seen" "SignatureDoesNotMatch" "the wrong secret was refused"

cli_finish "cli secrets test"

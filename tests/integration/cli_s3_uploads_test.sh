#!/usr/bin/env bash
# `docstore check` and `docstore check --abort-stale-uploads [--older-than
# AGE]` against the S3 test server (Swift + s3api): uploads left open by
# boto3 (Debian's /usr/bin/python3 with python3-boto3), in a bucket of the
# test's own (the check looks at a whole bucket), are reported, kept while
# younger than the age, aborted once older.  Local storage: the check
# reports temporaries left by killed writers.  Run under
# tools/with-test-servers.sh; without the S3_* variables it FAILS.
#   bash tests/integration/cli_s3_uploads_test.sh path/to/docstore
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

DOCSTORE=${1:?usage: cli_s3_uploads_test.sh path/to/docstore}
case $DOCSTORE in /*) ;; *) DOCSTORE=$(pwd)/$DOCSTORE ;; esac
for v in S3_ENDPOINT_URL S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY; do
  if [ -z "${!v:-}" ]; then
    echo "FAIL: $v is not set: run under tools/with-test-servers.sh" >&2
    exit 1
  fi
done
unset RSA_PUBLIC_KEY_PATH RSA_PRIVATE_KEY_PATH RSA_PRIVATE_KEY_PASSPHRASE \
  S3_CA_BUNDLE S3_VERIFY_TLS DOCSTORE_LOG_LEVEL S3_STALE_UPLOAD_SECONDS
export STORAGE_TYPE=s3 S3_BUCKET="docstore-cli-uploads-$$"
T=$(mktemp -d /tmp/docstore-cli-uploads-test-XXXXXX)
cd "$T" || exit 1

. "$HERE/cli_lib.sh"

# s3 ACTION [KEY]: boto3 on the test bucket.  open KEY prints an upload id
# (one part sent); count prints the open uploads; mkbucket / rmbucket.
s3() {
  /usr/bin/python3 - "$@" <<'PY'
import os, sys
import boto3
c = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"],
                 region_name=os.environ.get("S3_REGION") or "us-east-1",
                 aws_access_key_id=os.environ["S3_ACCESS_KEY"],
                 aws_secret_access_key=os.environ["S3_SECRET_KEY"])
b = os.environ["S3_BUCKET"]
act = sys.argv[1]
if act == "mkbucket":
    c.create_bucket(Bucket=b)
elif act == "rmbucket":
    for u in c.list_multipart_uploads(Bucket=b).get("Uploads", []):
        c.abort_multipart_upload(Bucket=b, Key=u["Key"], UploadId=u["UploadId"])
    c.delete_bucket(Bucket=b)
elif act == "open":
    u = c.create_multipart_upload(Bucket=b, Key=sys.argv[2])["UploadId"]
    c.upload_part(Bucket=b, Key=sys.argv[2], UploadId=u, PartNumber=1,
                  Body=b"left behind")
    print(u)
elif act == "count":
    print(len(c.list_multipart_uploads(Bucket=b).get("Uploads", [])))
PY
}
trap 's3 rmbucket >/dev/null 2>&1; rm -rf "$T"' EXIT
s3 mkbucket || { echo "FAIL: cannot create bucket $S3_BUCKET" >&2; exit 1; }

ok "check, no uploads" check
contains "$out" "bucket: OK" "check"
contains "$out" "incomplete uploads: OK (none older than 86400 s; 0 more recent)" "check, none"

id=$(s3 open "documents/left open.json") || fail "boto3 could not open an upload"
ok "check, one recent upload" check
contains "$out" "incomplete uploads: OK (none older than 86400 s; 1 more recent)" "check, recent"

# The configured age (S3_STALE_UPLOAD_SECONDS) decides what the check calls
# stale; a warning does not fail the check.
sleep 2
S3_STALE_UPLOAD_SECONDS=1 ok "check, one stale upload" check
contains "$out" "  stale upload: 'documents/left open.json' begun " "check names it"
contains "$out" "(upload id $id)" "check gives its id"
contains "$out" "incomplete uploads: WARNING: 1 older than 1 s hold storage (0 more recent)" "check warns"

# --abort-stale-uploads: the default age (a day) keeps it; an hour too.
ok "abort, default age" check --abort-stale-uploads
contains "$out" "recent	" "abort, default age lists it"
contains "$out" "	documents/left open.json	$id" "abort line: key and id"
contains "$err" "check: aborted 0 stale incomplete upload(s); kept 1 more recent" "abort, default age summary"
[ "$(s3 count)" = 1 ] || fail "the default age aborted a young upload"
ok "abort --older-than 1h" check --abort-stale-uploads --older-than 1h
[ "$(s3 count)" = 1 ] || fail "--older-than 1h aborted a young upload"
S3_STALE_UPLOAD_SECONDS=3600 ok "abort, configured age" check --abort-stale-uploads
[ "$(s3 count)" = 1 ] || fail "S3_STALE_UPLOAD_SECONDS=3600 aborted a young upload"
# Older than one second: aborted.
ok "abort --older-than 1" check --abort-stale-uploads --older-than 1
contains "$out" "aborted	" "abort line"
contains "$err" "check: aborted 1 stale incomplete upload(s); kept 0 more recent" "abort summary"
[ "$(s3 count)" = 0 ] || fail "the stale upload is still there"
S3_STALE_UPLOAD_SECONDS=1 ok "check after abort" check
contains "$out" "incomplete uploads: OK (none older than 1 s; 0 more recent)" "check after abort"

# Usage mistakes.
bad "--older-than alone" 2 DOCSTORE_EINVAL check --older-than 1h
bad "bad age" 2 DOCSTORE_EINVAL check --abort-stale-uploads --older-than 5w
S3_BUCKET=no-such-bucket-$$ bad "abort, unknown bucket" 7 DOCSTORE_ENOBUCKET check --abort-stale-uploads

# Local storage: no uploads there; the check counts stale temporaries.
(
  export STORAGE_TYPE=local LOCAL_STORAGE_PATH=$T/store/
  unset S3_BUCKET
  mkdir -p -m 700 "$T/store" && mkdir -p "$T/store/documents"
  bad "abort on local storage" 2 DOCSTORE_EINVAL check --abort-stale-uploads
  ok "local check" check
  contains "$out" "temporary files: OK (none left by killed writers)" "local check, none"
  head -c 1234 /dev/zero >"$T/store/documents/.docstore-tmp-0123456789abcdef"
  ok "local check, stale temporary" check
  contains "$out" "temporary files: WARNING: 1 left by killed writers (1234 bytes); remove them with \`docstore tmp clean\`" "local check, stale"
  [ "$failures" -eq 0 ]
) || failures=$((failures + 1))

cli_finish cli_s3_uploads_test

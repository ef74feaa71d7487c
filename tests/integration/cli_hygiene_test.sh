#!/usr/bin/env bash
# Secrets and plaintext in the docstore CLI (no server needed):
#  - once loaded, the S3 secret, the session token and the passphrases
#    (RSA_PRIVATE_KEY_PASSPHRASE, --passphrase-env VAR) are wiped from the
#    process's environment: /proc/<pid>/environ, read while the CLI waits
#    on its standard input, no longer shows them;
#  - decrypted output is written 0600 whatever the umask, replaces an
#    existing file or symbolic link (never writes through the link), and
#    nothing is written when decryption fails.
#   bash tests/integration/cli_hygiene_test.sh path/to/docstore
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

DOCSTORE=${1:?usage: cli_hygiene_test.sh path/to/docstore}
case $DOCSTORE in /*) ;; *) DOCSTORE=$(pwd)/$DOCSTORE ;; esac
T=$(mktemp -d /tmp/docstore-cli-hygiene-XXXXXX)
trap 'exec 3>&- 2>/dev/null; rm -rf "$T"' EXIT
cd "$T" || exit 1

. "$HERE/cli_lib.sh"
cli_isolate # nothing from the caller's environment

PASS="hygiene cli passphrase-Jd7Kq2"
OTHER="hygiene other passphrase-Wm3Xz8"
SECRET=HygieneCliS3Secret-Lp4Rt6
TOKEN=HygieneCliSessionToken-Vb9Nc1

RSA_PRIVATE_KEY_PASSPHRASE=$PASS ok "keygen" keygen --bits 2048 --out-dir keys
export RSA_PUBLIC_KEY_PATH=$T/keys/public.pem RSA_PRIVATE_KEY_PATH=$T/keys/private.pem
head -c 5000 /dev/urandom >doc.bin
ok "encrypt" encrypt doc.bin doc.env

REAL=$(readlink -f "$DOCSTORE")
# environ_of PID: the process's environment, one NAME=value a line.
environ_of() { { tr '\0' '\n' <"/proc/$1/environ"; } 2>/dev/null; }

# scrubbed DESC NAME VALUE CMD...: runs `docstore CMD` with its standard
# input on a FIFO, waits until it has wiped NAME's VALUE from its
# environment (NAME itself stays, with an empty value), then closes the
# input and leaves the exit status in $rc.  A CLI that never wipes it
# fails the check after 20 s.
scrubbed() {
  local desc=$1 name=$2 value=$3 pid i seen=0 state
  shift 3
  rm -f in.fifo && mkfifo in.fifo
  "$DOCSTORE" "$@" <in.fifo >"$out" 2>"$err" &
  pid=$!
  exec 3>in.fifo
  for ((i = 0; i < 400; i++)); do
    state=$(environ_of "$pid")
    # Only the CLI's own environment counts (not the shell's before exec).
    if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$REAL" ] &&
      printf '%s\n' "$state" | grep -q "^$name=" &&
      ! printf '%s\n' "$state" | grep -qF -- "$value"; then
      seen=1
      break
    fi
    sleep 0.05
  done
  [ "$seen" = 1 ] || fail "$desc: $name not wiped from the environment of the CLI (pid $pid): $(cat "$err")"
  [ -n "${FEED:-}" ] && cat "$FEED" >&3
  exec 3>&-
  wait "$pid"
  rc=$?
}

# The passphrase of --passphrase-env VAR.
MYPASS=$PASS FEED=doc.env scrubbed "--passphrase-env" MYPASS "$PASS" \
  decrypt --passphrase-env MYPASS - plain1.bin
[ "$rc" -eq 0 ] || fail "decrypt --passphrase-env: exit $rc: $(cat "$err")"
cmp -s doc.bin plain1.bin || fail "decrypt --passphrase-env: bytes differ"

# RSA_PRIVATE_KEY_PASSPHRASE, read through the configuration.
RSA_PRIVATE_KEY_PASSPHRASE=$PASS FEED=doc.env scrubbed "RSA_PRIVATE_KEY_PASSPHRASE" \
  RSA_PRIVATE_KEY_PASSPHRASE "$PASS" decrypt - plain2.bin
[ "$rc" -eq 0 ] || fail "decrypt: exit $rc: $(cat "$err")"
cmp -s doc.bin plain2.bin || fail "decrypt: bytes differ"

# --passphrase-env naming the setting itself: still found once wiped.
RSA_PRIVATE_KEY_PASSPHRASE=$PASS FEED=doc.env scrubbed "--passphrase-env RSA_PRIVATE_KEY_PASSPHRASE" \
  RSA_PRIVATE_KEY_PASSPHRASE "$PASS" \
  decrypt --passphrase-env RSA_PRIVATE_KEY_PASSPHRASE - plain3.bin
[ "$rc" -eq 0 ] || fail "decrypt --passphrase-env RSA_PRIVATE_KEY_PASSPHRASE: exit $rc: $(cat "$err")"
cmp -s doc.bin plain3.bin || fail "decrypt (setting as --passphrase-env): bytes differ"

# The S3 secret and token (STORAGE_TYPE=s3; put reads its standard input
# after the service is built; nothing listens, so the put fails after).
export STORAGE_TYPE=s3 S3_BUCKET=bank-docs S3_ACCESS_KEY=AKIDEXAMPLE
export S3_ENDPOINT_URL=http://127.0.0.1:1 S3_MAX_ATTEMPTS=1
S3_SECRET_KEY=$SECRET S3_SESSION_TOKEN=$TOKEN RSA_PRIVATE_KEY_PASSPHRASE=$PASS \
  FEED=doc.bin scrubbed "S3_SECRET_KEY" S3_SECRET_KEY "$SECRET" \
  put --file-id h1 --name d.pdf -
[ "$rc" -eq 7 ] || fail "put to nothing: exit $rc, expected 7: $(cat "$err")"
S3_SECRET_KEY=$SECRET S3_SESSION_TOKEN=$TOKEN RSA_PRIVATE_KEY_PASSPHRASE=$PASS \
  FEED=doc.bin scrubbed "S3_SESSION_TOKEN" S3_SESSION_TOKEN "$TOKEN" \
  put --file-id h1 --name d.pdf -
unset S3_ACCESS_KEY
AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET AWS_SESSION_TOKEN=$TOKEN \
  RSA_PRIVATE_KEY_PASSPHRASE=$PASS FEED=doc.bin scrubbed "AWS_SECRET_ACCESS_KEY" AWS_SECRET_ACCESS_KEY "$SECRET" \
  put --file-id h1 --name d.pdf -
[ "$rc" -eq 7 ] || fail "put with AWS_* to nothing: exit $rc, expected 7: $(cat "$err")"
unset STORAGE_TYPE S3_BUCKET S3_ACCESS_KEY S3_ENDPOINT_URL S3_MAX_ATTEMPTS

# ------------------------------------------------ decrypted output files
export RSA_PRIVATE_KEY_PASSPHRASE=$PASS
(umask 000 && "$DOCSTORE" decrypt doc.env open.bin) || fail "decrypt, umask 000"
mode_is open.bin 600
echo "old" >existing.bin && chmod 644 existing.bin
ok "decrypt over an existing file" decrypt doc.env existing.bin
mode_is existing.bin 600
cmp -s doc.bin existing.bin || fail "decrypt over a file: bytes differ"
echo "outside" >target.txt && chmod 644 target.txt
ln -s target.txt link.bin
ok "decrypt over a symbolic link" decrypt doc.env link.bin
[ -L link.bin ] && fail "the link was written through, not replaced"
[ "$(cat target.txt)" = outside ] || fail "the link's target was changed"
mode_is link.bin 600
ok "get over a symbolic link" put --file-id h2 --name d.pdf doc.bin
stored=$(cat "$out")
ln -s target.txt link2.bin
ok "get" get "$stored" link2.bin
[ "$(cat target.txt)" = outside ] || fail "get wrote through a link"
mode_is link2.bin 600
# Nothing written, and no temporary file left, when decryption fails.
OTHER_PASS=$OTHER bad "wrong passphrase" 6 DOCSTORE_EKEY decrypt --passphrase-env OTHER_PASS doc.env never.bin
[ ! -e never.bin ] || fail "a failed decrypt wrote its output"
left=$(ls -A | grep '^\.' | grep -v '^\.out$\|^\.err$')
[ -z "$left" ] || fail "temporary files left: $left"

cli_finish "cli hygiene test"

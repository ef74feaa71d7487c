#!/usr/bin/env bash
# End-to-end test of the docstore CLI with local storage (no server needed).
#   bash tests/integration/cli_test.sh path/to/docstore
# Every failure prints "FAIL: ..." and the script exits 1 at the end.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

DOCSTORE=${1:?usage: cli_test.sh path/to/docstore}
case $DOCSTORE in /*) ;; *) DOCSTORE=$(pwd)/$DOCSTORE ;; esac
T=$(mktemp -d /tmp/docstore-cli-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

# Nothing from the caller's environment.
while IFS= read -r name; do unset "$name"; done < <(
  env | sed -n 's/^\(STORAGE_TYPE\|LOCAL_STORAGE_PATH\|S3_[A-Z_]*\|AWS_[A-Z_]*\|RSA_[A-Z_]*\|DOCSTORE_[A-Z_]*\)=.*/\1/p')
export LOCAL_STORAGE_PATH=$T/store/

. "$HERE/cli_lib.sh"

# ------------------------------------------------------------ basics
ok "version" version
contains "$out" "docstore " "version"
ok "help" help
contains "$out" "keygen" "help lists commands"
contains "$out" "9 local I/O," "help: exit status 9"
contains "$out" "input over a size limit (an envelope over 1.5 GiB" \
  "help: exit status 9 covers an over-size envelope"
ok "help put" help put
contains "$out" "usage: docstore put" "help put"
ok "put --help" put --help
contains "$out" "--file-id" "put --help"
bad "unknown command" 2 DOCSTORE_EINVAL frobnicate
bad "unknown option" 2 DOCSTORE_EINVAL ls --frob
bad "missing option value" 2 DOCSTORE_EINVAL url --hours
bad "missing argument" 2 DOCSTORE_EINVAL get
bad "bad number" 2 DOCSTORE_EINVAL keygen --bits 1024

# ------------------------------------------------------------ keygen
ok "keygen" keygen --bits 2048 --out-dir keys
contains "$out" "key id: sha256:" "keygen prints the key id"
mode_is keys/private.pem 600
mode_is keys/public.pem 644
bad "keygen refuses to overwrite" 9 DOCSTORE_EEXISTS keygen --bits 2048 --out-dir keys
export RSA_PUBLIC_KEY_PATH=$T/keys/public.pem
export RSA_PRIVATE_KEY_PATH=$T/keys/private.pem

# ------------------------------------------------------- put / ls / get
printf 'PASSPORT\nholder: Jane Example\nnumber: X1234567\n' >doc.txt
head -c 100000 /dev/urandom >>doc.txt
ok "put" put --file-id 1 --user-id 123 --name passport.pdf doc.txt
path=$(cat "$out")
echo "$path" | grep -Eq '^documents/user_123/[0-9]{4}/[0-9]{2}/[0-9]{2}/1_passport\.pdf_pdf\.json$' ||
  fail "put: unexpected path '$path'"
[ -f "$LOCAL_STORAGE_PATH/$path" ] || fail "put: no file at $LOCAL_STORAGE_PATH/$path"
lacks "$LOCAL_STORAGE_PATH/$path" "Jane Example" "stored object is encrypted"

ok "ls" ls
grep -Eq "^$path	[0-9]+	[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\$" "$out" ||
  fail "ls: no '$path<TAB>size<TAB>date' line: $(cat "$out")"
ok "ls prefix" ls documents/user_999/
[ ! -s "$out" ] || fail "ls other prefix lists: $(cat "$out")"

ok "get" get "$path" back.txt
cmp -s doc.txt back.txt || fail "get: bytes differ"
mode_is back.txt 600
ok "get to stdout" get "$path"
cmp -s doc.txt "$out" || fail "get -: bytes differ"
ok "get checks identity" get --file-id 1 --user-id 123 "$path" back2.txt
cmp -s doc.txt back2.txt || fail "get --file-id: bytes differ"
bad "get wrong identity" 5 DOCSTORE_EINTEGRITY get --file-id 2 --user-id 123 "$path" wrong.txt
[ ! -e wrong.txt ] || fail "get wrong identity wrote output"

ok "get --raw" get --raw "$path" envelope.json
cmp -s envelope.json "$LOCAL_STORAGE_PATH/$path" || fail "get --raw differs from the stored object"
ok "decrypt a stored envelope" decrypt --file-id 1 --user-id 123 envelope.json plain.txt
cmp -s doc.txt plain.txt || fail "decrypt: bytes differ"

# put from stdin, system document
bad "put stdin needs --name" 2 DOCSTORE_EINVAL put --file-id 5 -
run put --file-id 5 --name template.pdf - <doc.txt
[ "$rc" -eq 0 ] || fail "put stdin: exit $rc: $(cat "$err")"
grep -Eq '^documents/system/[0-9/]{10}/5_template\.pdf_pdf\.json$' "$out" ||
  fail "put system: $(cat "$out")"
bad "put bad file id" 2 DOCSTORE_EINVAL put --file-id '../x' doc.txt

# put --raw
ok "put --raw" put --raw documents/raw/1.json envelope.json
ok "get --raw of put --raw" get --raw documents/raw/1.json raw.json
cmp -s envelope.json raw.json || fail "put/get --raw: bytes differ"
bad "put --raw refuses non-envelopes" 6 DOCSTORE_EFORMAT put --raw documents/raw/2.json doc.txt

# --------------------------------------------------------- rm / url
ok "rm" rm "$path"
ok "rm twice (idempotent)" rm "$path"
bad "get after rm" 4 DOCSTORE_ENOTFOUND get "$path" gone.txt
[ ! -e gone.txt ] || fail "failed get left an output file"
bad "url is S3 only" 8 DOCSTORE_EUNSUPPORTED url "$path"
ok "check" check
[ -s "$out" ] || fail "check printed nothing"

# ------------------------------------------------------------ fallback
mkdir -p "$LOCAL_STORAGE_PATH/legacy"
cp envelope.json "$LOCAL_STORAGE_PATH/legacy/old-1.json"
ok "get --fallback (never migrated)" get --fallback legacy/old-1.json - fb.txt
cmp -s doc.txt fb.txt || fail "fallback: bytes differ"
run get --fallback legacy/old-1.json "$path" fb2.txt
[ "$rc" -eq 0 ] || fail "fallback after a failed get: exit $rc: $(cat "$err")"
contains "$err" "falling back to local" "fallback warning"
cmp -s doc.txt fb2.txt || fail "fallback 2: bytes differ"
# Legacy reads stay below DOCSTORE_LEGACY_ROOT (here LOCAL_STORAGE_PATH):
# "..", an absolute path elsewhere and a symbolic link are refused.
cp envelope.json outside.json
ln -s "$T/outside.json" "$LOCAL_STORAGE_PATH/legacy/link.json"
bad "get --fallback ../" 7 DOCSTORE_EACCESS get --fallback ../outside.json - fbx.txt
contains "$err" '".."' "fallback .. message"
bad "get --fallback absolute outside" 7 DOCSTORE_EACCESS \
  get --fallback "$T/outside.json" - fbx.txt
contains "$err" "DOCSTORE_LEGACY_ALLOW_OUTSIDE_ROOT" "fallback names the opt-out"
bad "get --fallback through a link" 7 DOCSTORE_EACCESS \
  get --fallback legacy/link.json - fbx.txt
[ ! -e fbx.txt ] || fail "refused fallback wrote an output file"
ok "get --fallback absolute inside" \
  get --fallback "$LOCAL_STORAGE_PATH/legacy/old-1.json" - fb3.txt
cmp -s doc.txt fb3.txt || fail "fallback 3: bytes differ"
export DOCSTORE_LEGACY_ALLOW_OUTSIDE_ROOT=1
ok "get --fallback outside, opted out" get --fallback ../outside.json - fb4.txt
cmp -s doc.txt fb4.txt || fail "fallback 4: bytes differ"
ok "get --fallback link, opted out" get --fallback legacy/link.json - fb5.txt
cmp -s doc.txt fb5.txt || fail "fallback 5: bytes differ"
unset DOCSTORE_LEGACY_ALLOW_OUTSIDE_ROOT
rm "$LOCAL_STORAGE_PATH/legacy/link.json"

# ------------------------------------------------ temporary files
# A live writer's temporary (a process holding its OFD lock, as put does)
# is listed as live and never removed; once that process is killed with
# SIGKILL its file is stale and `tmp clean` removes it.
tmpdir_="$LOCAL_STORAGE_PATH/documents"
mkdir -p "$tmpdir_"
live_tmp="$tmpdir_/.docstore-tmp-0123456789abcdef"
python3 - "$live_tmp" <<'PY' &
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_WRLCK, 0, 0, 0, 0))
os.write(fd, b"partial envelope")
open(sys.argv[1] + ".ready", "w").close()
time.sleep(600)
PY
holder=$!
for _ in $(seq 100); do [ -e "$live_tmp.ready" ] && break; sleep 0.05; done
rm -f "$live_tmp.ready"
stale_tmp="$tmpdir_/.docstore-tmp-fedcba9876543210"
printf 'left by a killed writer' >"$stale_tmp"
ok "tmp list" tmp list
contains "$out" "live	16	" "tmp list: the held file is live"
contains "$out" "documents/.docstore-tmp-0123456789abcdef" "tmp list: live path"
contains "$out" "stale	23	" "tmp list: the unlocked file is stale"
[ -e "$stale_tmp" ] || fail "tmp list removed a file"
ok "tmp clean --older-than 1h" tmp clean --older-than 1h
contains "$out" "recent	23	" "tmp clean --older-than keeps a young file"
[ -e "$stale_tmp" ] || fail "tmp clean --older-than removed a young file"
ok "tmp clean" tmp clean
contains "$out" "removed	23	" "tmp clean: stale removed"
contains "$out" "live	16	" "tmp clean: live kept"
[ ! -e "$stale_tmp" ] || fail "tmp clean left the stale file"
[ -e "$live_tmp" ] || fail "tmp clean removed a live writer's file"
kill -9 "$holder"
wait "$holder" 2>/dev/null
ok "tmp clean after kill -9" tmp clean
contains "$out" "removed	16	" "tmp clean: the killed writer's file"
[ ! -e "$live_tmp" ] || fail "tmp clean left the killed writer's file"
ok "tmp list (empty)" tmp list
[ ! -s "$out" ] || fail "tmp list after clean: $(cat "$out")"
bad "tmp bad action" 2 DOCSTORE_EINVAL tmp frob
bad "tmp bad age" 2 DOCSTORE_EINVAL tmp clean --older-than 5w
bad "tmp list --older-than" 2 DOCSTORE_EINVAL tmp list --older-than 1h
bad "tmp missing root" 4 DOCSTORE_ENOTFOUND tmp --root "$T/none" list

# A real put killed with SIGKILL while it writes.
head -c 150000000 /dev/zero >big.bin
caught=0
for _ in 1 2 3; do
  "$DOCSTORE" put --file-id big --name big.bin big.bin >/dev/null 2>&1 &
  putter=$!
  for _ in $(seq 400); do
    "$DOCSTORE" tmp list 2>/dev/null | grep -q '^live' && { caught=1; break; }
    kill -0 "$putter" 2>/dev/null || break
    sleep 0.01
  done
  kill -9 "$putter" 2>/dev/null
  wait "$putter" 2>/dev/null
  [ "$caught" -eq 1 ] && break
done
[ "$caught" -eq 1 ] || fail "no put caught mid-write"
ok "tmp list after a killed put" tmp list
grep -q '^stale' "$out" || fail "killed put: no stale temporary: $(cat "$out")"
ok "tmp clean after a killed put" tmp clean
grep -q '^removed' "$out" || fail "killed put: nothing removed: $(cat "$out")"
ok "tmp list after cleaning" tmp list
[ ! -s "$out" ] || fail "tmp list after cleaning a killed put: $(cat "$out")"
rm -f big.bin

# ------------------------------------------ encrypt / decrypt / rewrap
ok "encrypt" encrypt --file-id 9 --user-id 42 doc.txt enc.json
mode_is enc.json 600
lacks enc.json "Jane Example" "envelope holds no plaintext"
ok "decrypt" decrypt --file-id 9 --user-id 42 enc.json dec.txt
cmp -s doc.txt dec.txt || fail "encrypt/decrypt: bytes differ"
"$DOCSTORE" encrypt - - <doc.txt | "$DOCSTORE" decrypt - - >piped.txt ||
  fail "encrypt/decrypt through pipes"
cmp -s doc.txt piped.txt || fail "pipes: bytes differ"
bad "decrypt wrong document" 5 DOCSTORE_EINTEGRITY decrypt --file-id 10 --user-id 42 enc.json x.txt

ok "keygen second pair" keygen --bits 2048 --out-dir keys2
ok "rewrap" rewrap --to-key keys2/public.pem enc.json rewrapped.json
ok "decrypt rewrapped with the new key" decrypt --private-key keys2/private.pem rewrapped.json re.txt
cmp -s doc.txt re.txt || fail "rewrap: bytes differ"
bad "rewrapped needs the new key" 6 DOCSTORE_EKEY decrypt rewrapped.json x.txt
bad "rewrap needs --to-key" 2 DOCSTORE_EINVAL rewrap enc.json x.json

# Tampered ciphertext: an integrity error, nothing written.
/usr/bin/python3 - enc.json tampered.json <<'EOF'
import json, sys, base64
env = json.load(open(sys.argv[1]))
field = "ciphertext" if "ciphertext" in env else next(k for k in env if "cipher" in k)
raw = bytearray(base64.b64decode(env[field]))
raw[len(raw) // 2] ^= 1
env[field] = base64.b64encode(bytes(raw)).decode()
json.dump(env, open(sys.argv[2], "w"))
EOF
bad "tampered envelope" 5 DOCSTORE_EINTEGRITY decrypt tampered.json t.txt
[ ! -e t.txt ] || fail "tampered envelope produced output"
bad "not an envelope" 6 DOCSTORE_EFORMAT decrypt doc.txt t.txt

# Passphrase-protected key.
export KEY_PASS='correct horse battery staple'
ok "keygen with passphrase" keygen --bits 2048 --out-dir keys3 --passphrase-env KEY_PASS
contains "$out" "passphrase-protected" "keygen passphrase note"
lacks keys3/private.pem "BEGIN PRIVATE KEY" "private key is encrypted"
ok "encrypt for keys3" encrypt --public-key keys3/public.pem doc.txt enc3.json
bad "decrypt without passphrase" 6 DOCSTORE_EKEY decrypt --private-key keys3/private.pem enc3.json x.txt
contains "$err" "passphrase" "passphrase hint"
ok "decrypt with passphrase" decrypt --private-key keys3/private.pem --passphrase-env KEY_PASS enc3.json d3.txt
cmp -s doc.txt d3.txt || fail "passphrase key: bytes differ"
RSA_PRIVATE_KEY_PASSPHRASE=$KEY_PASS run decrypt --private-key keys3/private.pem enc3.json d4.txt
[ "$rc" -eq 0 ] || fail "RSA_PRIVATE_KEY_PASSPHRASE: exit $rc: $(cat "$err")"
bad "--passphrase-env unset" 2 DOCSTORE_EINVAL decrypt --passphrase-env NO_SUCH_VAR enc3.json x.txt

# -------------------------------------------------------------- config
S3_SECRET_KEY=s3cr3t-value-never-shown RSA_PRIVATE_KEY_PASSPHRASE=pass-never-shown \
  S3_ACCESS_KEY=AKIA1234567890ABCDEF run config
[ "$rc" -eq 0 ] || fail "config: exit $rc: $(cat "$err")"
contains "$out" "S3_SECRET_KEY=****" "config masks the secret"
contains "$out" "S3_ACCESS_KEY=AKIA****CDEF" "config masks the access key"
contains "$out" "LOCAL_STORAGE_PATH=$LOCAL_STORAGE_PATH" "config shows the env value"
contains "$out" "STORAGE_TYPE=local  # default" "config marks defaults"
for f in "$out" "$err"; do
  lacks "$f" "s3cr3t-value-never-shown" "config secret"
  lacks "$f" "pass-never-shown" "config passphrase"
  lacks "$f" "1234567890AB" "config access key"
done
STORAGE_TYPE=ftp bad "bad STORAGE_TYPE" 3 DOCSTORE_ECONFIG ls
contains "$err" "STORAGE_TYPE must be 's3' or 'local', got 'ftp'" "bad STORAGE_TYPE message"
STORAGE_TYPE=s3 S3_BUCKET=bank-documents bad "s3 without credentials" 3 DOCSTORE_ECONFIG config
contains "$err" "S3_ACCESS_KEY (or AWS_ACCESS_KEY_ID) is not set" "missing credentials"
contains "$out" "STORAGE_TYPE=s3" "config still prints the incomplete configuration"
S3_REGION='Europe' bad "bad region" 3 DOCSTORE_ECONFIG check
contains "$err" "S3_REGION" "bad region names the variable"

# .env in the current folder, overridden by the environment.
mkdir -p envdir && cd envdir || exit 1
cat >.env <<EOF
# settings for the test
export STORAGE_TYPE=local
LOCAL_STORAGE_PATH="$T/dotenv-store/"   # quoted, with a comment
S3_SECRET_KEY='dotenv-secret-never-shown'
S3_REGION=eu-west-1
EOF
saved=$LOCAL_STORAGE_PATH
unset LOCAL_STORAGE_PATH
ok "config reads ./.env" config
contains "$out" "# .env file: .env" "config names the .env file"
contains "$out" "LOCAL_STORAGE_PATH=$T/dotenv-store/" ".env value"
contains "$out" "S3_REGION=eu-west-1" ".env region"
lacks "$out" "dotenv-secret-never-shown" ".env secret"
S3_REGION=us-west-2 run config
contains "$out" "S3_REGION=us-west-2" "environment wins over .env"
ok "put with .env storage" put --file-id 3 ../doc.txt
[ -f "$T/dotenv-store/$(cat "$out")" ] || fail ".env LOCAL_STORAGE_PATH not used"
ok "--no-env-file" --no-env-file config
contains "$out" "LOCAL_STORAGE_PATH=encrypted_files/  # default" "--no-env-file"
printf 'S3_REGION=eu-west-1\nS3_BUCKET bank\n' >../broken.env
bad "--env-file syntax error" 3 DOCSTORE_ECONFIG --env-file ../broken.env config
contains "$err" "broken.env:2: missing '=' after S3_BUCKET" ".env error names the line"
bad "--env-file missing" 4 DOCSTORE_ENOTFOUND --env-file ../no-such.env config
printf 'STORAGE_TYPE=local\r\nS3_REGION=ap-south-1\r\n' >../crlf.env
ok "--env-file CRLF" --env-file ../crlf.env config
contains "$out" "S3_REGION=ap-south-1" "CRLF .env"
cd "$T" || exit 1
export LOCAL_STORAGE_PATH=$saved

cli_finish cli_test

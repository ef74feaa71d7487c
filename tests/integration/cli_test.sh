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

. "$HERE/cli_lib.sh"
cli_isolate # nothing from the caller's environment

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

# put/get stream: standard input, a pipe, standard output; format 2.
head -c 3000000 /dev/urandom >sbig.bin
cat sbig.bin | "$DOCSTORE" put --file-id s1 --user-id 7 --name big.bin - >"$out" 2>"$err" ||
  fail "put from a pipe: $(cat "$err")"
spath=$(cat "$out")
[ "$(head -c 8 "$LOCAL_STORAGE_PATH/$spath" | od -An -tx1 | tr -d ' \n')" = "894453450d0a1a0a" ] ||
  fail "put: the stored object is not format 2"
"$DOCSTORE" get "$spath" - 2>"$err" | cmp -s - sbig.bin || fail "get to a pipe: bytes differ"
ok "get to a file" get --file-id s1 --user-id 7 "$spath" sback.bin
cmp -s sbig.bin sback.bin || fail "get to a file: bytes differ"
# A tampered stored object: exit 5, no file, stdout a verified prefix.
cp "$LOCAL_STORAGE_PATH/$spath" saved.obj
printf '\x55' | dd of="$LOCAL_STORAGE_PATH/$spath" bs=1 seek=2000000 conv=notrunc status=none
bad "get tampered" 5 DOCSTORE_EINTEGRITY get "$spath" stamper.bin
[ ! -e stamper.bin ] || fail "get of a tampered object left a file"
"$DOCSTORE" get "$spath" - >stamper.out 2>/dev/null
[ $? -eq 5 ] || fail "get tampered to stdout: not exit 5"
[ "$(stat -c %s stamper.out)" -lt 2000000 ] || fail "get tampered to stdout: the bad segment was released"
cp saved.obj "$LOCAL_STORAGE_PATH/$spath"
# --progress, not a terminal: stdout keeps only the path / the data.
"$DOCSTORE" put --progress --file-id s2 --name big.bin sbig.bin >"$out" 2>prog.err ||
  fail "put --progress: $(cat prog.err)"
[ "$(wc -l <"$out")" -eq 1 ] || fail "put --progress: stdout is not one line: $(cat "$out")"
grep -q '^docstore: put: .*done$' prog.err || fail "put --progress: no final line: $(cat prog.err)"
"$DOCSTORE" get --progress "$(cat "$out")" - >prog.out 2>prog.err || fail "get --progress: $(cat prog.err)"
cmp -s sbig.bin prog.out || fail "get --progress: stdout differs"
grep -q '^docstore: get: .*done$' prog.err || fail "get --progress: no final line: $(cat prog.err)"
# convert a stored v1 document in place: same path, same content, same identity.
DOCSTORE_ENVELOPE_VERSION=1 ok "put v1" put --file-id c1 --user-id 7 --name old.pdf sbig.bin
cpath=$(cat "$out")
[ "$(head -c 1 "$LOCAL_STORAGE_PATH/$cpath")" = "{" ] || fail "DOCSTORE_ENVELOPE_VERSION=1 put is not v1"
n_before=$(find "$LOCAL_STORAGE_PATH" -type f | wc -l)
ok "convert stored" convert --progress "$cpath"
[ "$(cat "$out")" = "$cpath" ] || fail "convert printed '$(cat "$out")', not the path"
[ "$(head -c 8 "$LOCAL_STORAGE_PATH/$cpath" | od -An -tx1 | tr -d ' \n')" = "894453450d0a1a0a" ] ||
  fail "convert: the object is not format 2"
[ "$(find "$LOCAL_STORAGE_PATH" -type f | wc -l)" -eq "$n_before" ] || fail "convert added or removed objects"
ok "get converted" get --file-id c1 --user-id 7 "$cpath" conv.bin
cmp -s sbig.bin conv.bin || fail "convert stored: bytes differ"
bad "converted keeps the binding" 5 DOCSTORE_EINTEGRITY get --file-id c2 --user-id 7 "$cpath" x.bin
ok "convert again" convert "$cpath"
contains "$err" "already in format 2" "convert of a v2 document"
bad "convert a missing path" 4 DOCSTORE_ENOTFOUND convert documents/none.json
# DOCSTORE_RECIPIENT_KEYS: the converted document is also sealed to them.
ok "keygen escrow" keygen --bits 2048 --out-dir keys5
DOCSTORE_ENVELOPE_VERSION=1 ok "put v1 (escrow)" put --file-id c3 --name e.pdf doc.txt
epath=$(cat "$out")
DOCSTORE_RECIPIENT_KEYS=$T/keys5/public.pem ok "convert with DOCSTORE_RECIPIENT_KEYS" convert "$epath"
ok "get --raw converted" get --raw "$epath" escrow.env
ok "the escrow key opens it" decrypt --private-key keys5/private.pem escrow.env escrow.out
cmp -s doc.txt escrow.out || fail "convert with DOCSTORE_RECIPIENT_KEYS: bytes differ"
ok "the default key still opens it" get "$epath" escrow2.out
cmp -s doc.txt escrow2.out || fail "convert with DOCSTORE_RECIPIENT_KEYS: default key bytes differ"

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

# Tampered ciphertext (format 1, JSON): an integrity error, nothing written.
ok "encrypt --format 1" encrypt --format 1 doc.txt enc1.json
[ "$(head -c 1 enc1.json)" = "{" ] || fail "--format 1 is not JSON"
/usr/bin/python3 - enc1.json tampered.json <<'EOF'
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

# ------------------------------------------------ streaming, format 2
# header_len FILE: a v2 envelope's header length (bytes 12-15, big-endian).
header_len() { od -An -tu1 -j12 -N4 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}'; }
is_v2() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "894453450d0a1a0a" ]; }
# body FILE: the segments of a v2 envelope (everything after its header).
body() { tail -c +$(($(header_len "$1") + 1)) "$1"; }
# 3 MB: several 1 MiB blocks of the CLI, many 64 KiB segments.
head -c 3000000 /dev/urandom >big.bin
ok "encrypt (default format 2)" encrypt big.bin big.env
is_v2 big.env || fail "encrypt: default format is not 2"
size=$(stat -c %s big.env)
[ "$size" -le $((3000000 + 3000000 / 1000 + $(header_len big.env))) ] ||
  fail "v2 overhead: $size bytes for 3000000"
"$DOCSTORE" encrypt - - <big.bin >pipe.env 2>"$err" || fail "encrypt stdin->stdout: $(cat "$err")"
is_v2 pipe.env || fail "encrypt to stdout is not format 2"
cat big.bin | "$DOCSTORE" decrypt - - <pipe.env >pipe.out 2>"$err" ||
  fail "decrypt stdin->stdout: $(cat "$err")"
cmp -s big.bin pipe.out || fail "stdin/stdout streaming: bytes differ"
cat big.bin | "$DOCSTORE" encrypt - from-pipe.env 2>"$err" || fail "encrypt from a pipe: $(cat "$err")"
ok "decrypt a piped encryption" decrypt from-pipe.env from-pipe.out
cmp -s big.bin from-pipe.out || fail "encrypt from a pipe: bytes differ"
DOCSTORE_ENVELOPE_VERSION=1 ok "encrypt under DOCSTORE_ENVELOPE_VERSION=1" encrypt doc.txt set1.env
[ "$(head -c 1 set1.env)" = "{" ] || fail "DOCSTORE_ENVELOPE_VERSION=1 did not give JSON"
DOCSTORE_ENVELOPE_VERSION=1 ok "--format 2 wins over the setting" encrypt --format 2 doc.txt set2.env
is_v2 set2.env || fail "--format 2 under DOCSTORE_ENVELOPE_VERSION=1"
bad "--format 3" 2 DOCSTORE_EINVAL encrypt --format 3 doc.txt x.env
bad "--compress with --format 1" 2 DOCSTORE_EINVAL encrypt --format 1 --compress doc.txt x.env
bad "--segment-size not a power of two" 2 DOCSTORE_EINVAL encrypt --segment-size 5000 doc.txt x.env
# Empty document.
: >empty.bin
ok "encrypt empty" encrypt empty.bin empty.env
ok "decrypt empty" decrypt empty.env empty.out
[ -f empty.out ] && [ ! -s empty.out ] || fail "empty document did not come back empty"
# Segment size and compression.
ok "encrypt --segment-size 4096" encrypt --segment-size 4096 big.bin seg.env
n_seg=$(((3000000 + 4095) / 4096))
[ "$(stat -c %s seg.env)" -eq $((3000000 + 16 * n_seg + $(header_len seg.env))) ] ||
  fail "--segment-size 4096: $(stat -c %s seg.env) bytes"
ok "decrypt --segment-size 4096" decrypt seg.env seg.out
cmp -s big.bin seg.out || fail "--segment-size: bytes differ"
head -c 2000000 /dev/zero >zeros.bin
ok "encrypt --compress=5" encrypt --compress=5 zeros.bin zeros.env
[ "$(stat -c %s zeros.env)" -lt 100000 ] || fail "--compress: $(stat -c %s zeros.env) bytes for 2 MB of zeros"
ok "decrypt compressed" decrypt zeros.env zeros.out
cmp -s zeros.bin zeros.out || fail "--compress: bytes differ"
# Several recipients: each key opens it alone.
ok "encrypt --recipient" encrypt --recipient keys2/public.pem big.bin multi.env
ok "decrypt multi, first key" decrypt multi.env m1.out
ok "decrypt multi, --recipient key" decrypt --private-key keys2/private.pem multi.env m2.out
cmp -s big.bin m1.out && cmp -s big.bin m2.out || fail "--recipient: bytes differ"
bad "--recipient with --format 1" 2 DOCSTORE_EINVAL encrypt --format 1 --recipient keys2/public.pem doc.txt x.env

# A failed decrypt leaves no output file (and keeps an existing one).
cp big.env flip.env
printf '\x55' | dd of=flip.env bs=1 seek=1500000 conv=notrunc status=none
echo "old content" >kept.txt
bad "decrypt tampered v2" 5 DOCSTORE_EINTEGRITY decrypt flip.env kept.txt
[ "$(cat kept.txt)" = "old content" ] || fail "a failed decrypt replaced the output"
bad "decrypt tampered v2 (new file)" 5 DOCSTORE_EINTEGRITY decrypt flip.env flip.out
[ ! -e flip.out ] || fail "a failed decrypt left an output file"
head -c -100 big.env >trunc.env
bad "decrypt truncated v2" 5 DOCSTORE_EINTEGRITY decrypt trunc.env trunc.out
[ ! -e trunc.out ] || fail "a truncated envelope left an output file"
ls -A | grep -q '^\.\(kept\|flip\|trunc\)' && fail "a failed decrypt left a temporary file: $(ls -A)"
# To standard output: only verified plaintext (a prefix), and exit 5.
"$DOCSTORE" decrypt flip.env - >flip.stdout 2>"$err"
[ $? -eq 5 ] || fail "decrypt tampered to stdout: not exit 5: $(cat "$err")"
[ "$(stat -c %s flip.stdout)" -lt 1500000 ] || fail "tampered stdout: the bad segment was released"
cmp -s flip.stdout <(head -c "$(stat -c %s flip.stdout)" big.bin) ||
  fail "tampered stdout: released bytes are not the plaintext"

# rewrap on format 2: header only, the segments copied byte for byte.
ok "rewrap --add" rewrap --add keys2/public.pem big.env added.env
cmp -s <(body big.env) <(body added.env) || fail "rewrap --add changed the segments"
ok "decrypt --add'ed, old key" decrypt added.env a1.out
ok "decrypt --add'ed, new key" decrypt --private-key keys2/private.pem added.env a2.out
cmp -s big.bin a1.out && cmp -s big.bin a2.out || fail "rewrap --add: bytes differ"
ok "rewrap --remove (a key file)" rewrap --private-key keys2/private.pem --remove keys/public.pem added.env removed.env
cmp -s <(body big.env) <(body removed.env) || fail "rewrap --remove changed the segments"
bad "removed key cannot open" 6 DOCSTORE_EKEY decrypt removed.env r1.out
ok "remaining key opens" decrypt --private-key keys2/private.pem removed.env r2.out
cmp -s big.bin r2.out || fail "rewrap --remove: bytes differ"
keyid=$("$DOCSTORE" keygen --bits 2048 --out-dir keys4 | sed -n 's/.*key id: \(sha256:[0-9a-f]*\).*/\1/p')
ok "rewrap --add keys4" rewrap --add keys4/public.pem big.env k4.env
ok "rewrap --remove (a key id)" rewrap --remove "$keyid" k4.env k4r.env
cmp -s <(body big.env) <(body k4r.env) || fail "rewrap --remove by id changed the segments"
run decrypt --private-key keys4/private.pem k4r.env x.out
[ "$rc" -ne 0 ] || fail "the key removed by id still opens"
run rewrap --private-key keys2/private.pem --remove keys2/public.pem removed.env none.env
[ "$rc" -ne 0 ] || fail "rewrap removed the last recipient"
[ ! -e none.env ] || fail "a failed rewrap left an output file"
ok "rewrap --to-key on format 2" rewrap --to-key keys2/public.pem big.env to2.env
is_v2 to2.env || fail "rewrap --to-key of v2 is not v2"
cmp -s <(body big.env) <(body to2.env) || fail "rewrap --to-key (v2) changed the segments"
bad "--to-key: the old key is gone" 6 DOCSTORE_EKEY decrypt to2.env t1.out
"$DOCSTORE" rewrap --add keys2/public.pem - - <big.env >piped-rewrap.env 2>"$err" ||
  fail "rewrap stdin->stdout: $(cat "$err")"
cmp -s <(body big.env) <(body piped-rewrap.env) || fail "piped rewrap changed the segments"
bad "--add on format 1" 8 DOCSTORE_EUNSUPPORTED rewrap --add keys2/public.pem enc1.json x.json
bad "--to-key with --add" 2 DOCSTORE_EINVAL rewrap --to-key keys2/public.pem --add keys2/public.pem big.env x.env

# convert, file to file: v1 -> v2, same identity.
ok "encrypt v1 bound" encrypt --format 1 --file-id 9 --user-id 42 big.bin bound1.json
ok "convert file" convert bound1.json bound2.env
is_v2 bound2.env || fail "convert did not write format 2"
ok "converted keeps the identity" decrypt --file-id 9 --user-id 42 bound2.env c1.out
cmp -s big.bin c1.out || fail "convert file: bytes differ"
bad "converted: another identity" 5 DOCSTORE_EINTEGRITY decrypt --file-id 8 --user-id 42 bound2.env x.out

# --progress on a non-terminal: lines on stderr only, the data untouched.
"$DOCSTORE" encrypt --progress - - <big.bin >prog.env 2>prog.err || fail "encrypt --progress: $(cat prog.err)"
grep -q '^docstore: encrypt: .*done$' prog.err || fail "encrypt --progress: no final line: $(cat prog.err)"
"$DOCSTORE" decrypt --progress=lines prog.env - >prog.out 2>prog.err || fail "decrypt --progress: $(cat prog.err)"
cmp -s big.bin prog.out || fail "decrypt --progress: stdout differs"
grep -q '^docstore: decrypt: .*done$' prog.err || fail "decrypt --progress: no final line: $(cat prog.err)"
"$DOCSTORE" decrypt --progress=bar prog.env - >prog.out 2>prog.err || fail "decrypt --progress=bar: $(cat prog.err)"
cmp -s big.bin prog.out || fail "decrypt --progress=bar: stdout differs"
grep -q '#' prog.err || fail "--progress=bar drew no bar"
bad "--progress=bogus" 2 DOCSTORE_EINVAL decrypt --progress=bogus prog.env x.out

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

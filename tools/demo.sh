#!/usr/bin/env bash
# The main job, on a fresh machine: install what building needs, build the
# library and the docstore CLI, make a key pair if there is none, store an
# encrypted document on the local filesystem, read it back, and show where
# it went.  Uses the same environment variables as the library
# (STORAGE_TYPE, LOCAL_STORAGE_PATH, RSA_PUBLIC_KEY_PATH, ...); defaults to
# local storage under ./encrypted_files/ and keys under ./keys/.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

bash tools/setup.sh --minimal
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDOCSTORE_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
docstore="$top/build/docstore"

export STORAGE_TYPE="${STORAGE_TYPE:-local}"
export LOCAL_STORAGE_PATH="${LOCAL_STORAGE_PATH:-$top/encrypted_files/}"
export RSA_PUBLIC_KEY_PATH="${RSA_PUBLIC_KEY_PATH:-$top/keys/public.pem}"
export RSA_PRIVATE_KEY_PATH="${RSA_PRIVATE_KEY_PATH:-$top/keys/private.pem}"

if [ ! -f "$RSA_PRIVATE_KEY_PATH" ]; then
  echo "== generating an RSA key pair in $(dirname "$RSA_PRIVATE_KEY_PATH")"
  "$docstore" keygen --out-dir "$(dirname "$RSA_PRIVATE_KEY_PATH")"
fi

doc=$(mktemp)
back=$(mktemp)
trap 'rm -f "$doc" "$back"' EXIT
printf 'PASSPORT\nholder: Jane Example\nnumber: X1234567\nissued: %s\n' "$(date -u +%F)" >"$doc"

echo "== effective configuration"
"$docstore" config
echo "== storing passport.pdf for user 123 (file id 1)"
path=$("$docstore" put --file-id 1 --user-id 123 --name passport.pdf "$doc")
echo "stored at: $path"
echo "on disk:   ${LOCAL_STORAGE_PATH%/}/$path"
echo "== the envelope: format 2, binary (docs/FORMAT.md); its first 160 bytes"
"$docstore" get --raw "$path" - | head -c 160 | od -A d -t x1z -v
echo "   ... (header: magic, version, suite, flags, length, segment size, salt,"
echo "   nonce prefix, identity, recipients, key commitment, tag; then segments)"
echo "== reading it back"
"$docstore" get "$path" "$back"
if cmp -s "$doc" "$back"; then
  echo "OK: the document read back is identical ($(wc -c <"$doc") bytes)"
else
  echo "FAIL: the document read back differs" >&2
  exit 1
fi

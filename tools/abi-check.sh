#!/usr/bin/env bash
# ABI check: the ABI of libdocstore.so (built here with debug information)
# against the committed baseline abi/libdocstore.abi, with abigail-tools.
#
#   tools/abi-check.sh            build, compare; fails on any difference
#   tools/abi-check.sh --update   build, rewrite the baseline (commit it in
#                                 the same commit as the intended change)
#
# Only the types reachable from the public headers (include/docstore,
# abidw --headers-dir) count, so a change to an internal structure is not
# an ABI change. Any difference fails, an added function included: an
# intended one is committed together with the new baseline (HACKING.md).
# Builds in build-abi/ (ABI_BUILD_DIR overrides) with RelWithDebInfo
# (-O2 -g), the library only.
set -euo pipefail
cd "$(dirname "$0")/.."

ME=abi-check.sh
BASELINE=abi/libdocstore.abi
BUILD=${ABI_BUILD_DIR:-build-abi}
update=0
case ${1:-} in
    --update) update=1 ;;
    "") ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$ME: unknown option: $1 (see --help)" >&2; exit 2 ;;
esac
for t in abidw abidiff; do
    command -v "$t" >/dev/null 2>&1 ||
        { echo "$ME: $t not found (install abigail-tools: tools/setup.sh)" >&2; exit 2; }
done

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDOCSTORE_BUILD_TESTS=OFF \
    -DDOCSTORE_BUILD_BENCH=OFF -DDOCSTORE_BUILD_CLI=OFF -DDOCSTORE_BUILD_DOCS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target docstore >/dev/null
so=$BUILD/libdocstore.so

tmp=$(mktemp -d "${TMPDIR:-/tmp}/docstore-abi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# No source locations and no build paths: the baseline changes only when
# the ABI does, and is the same on every machine.
abidw --headers-dir include/docstore --no-show-locs --no-corpus-path \
    --no-comp-dir-path --drop-private-types --drop-undefined-syms --out-file "$tmp/new.abi" "$so"

if [ "$update" = 1 ]; then
    mkdir -p "$(dirname "$BASELINE")"
    cp "$tmp/new.abi" "$BASELINE"
    echo "$ME: wrote $BASELINE from $so; commit it with the change"
    exit 0
fi
if [ ! -f "$BASELINE" ]; then
    echo "$ME: no baseline $BASELINE: run tools/abi-check.sh --update" >&2
    exit 1
fi
set +e
abidiff --no-show-locs "$BASELINE" "$tmp/new.abi" >"$tmp/diff.txt" 2>&1
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
    cat "$tmp/diff.txt"
    if [ $((rc & 1)) -ne 0 ]; then
        echo "$ME: abidiff failed (status $rc)" >&2
    elif [ $((rc & 8)) -ne 0 ]; then
        echo "$ME: INCOMPATIBLE ABI change against $BASELINE (above)" >&2
    else
        echo "$ME: ABI change against $BASELINE (above)" >&2
    fi
    echo "$ME: if intended: bash tools/abi-check.sh --update, and commit $BASELINE with the change" >&2
    exit 1
fi
echo "$ME: ABI of $so matches $BASELINE"

#!/usr/bin/env bash
# libdocstore as a subproject (add_subdirectory), without the migration API.
#
#   subdir_test.sh SOURCE_DIR
#
# 1. No CMake file of the project refers to CMAKE_SOURCE_DIR or
#    CMAKE_BINARY_DIR (inside another project those are the other
#    project's), except the one marked "(top-level check)".
# 2. tests/cmake/consumer, a tiny project doing add_subdirectory() on
#    SOURCE_DIR with DOCSTORE_WITH_MIGRATE=OFF, configures, builds and runs;
#    the library it built does not link libpq and exports no
#    docstore_migrate_* function; libdocstore's tests and benchmarks are not
#    configured in it.
set -euo pipefail
src=$(realpath "${1:?usage: subdir_test.sh SOURCE_DIR}")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/docstore-subdir-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
bad() { printf 'FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }

echo "== no CMAKE_SOURCE_DIR / CMAKE_BINARY_DIR"
if hits=$(cd "$src" && git ls-files -- 'CMakeLists.txt' '*/CMakeLists.txt' '*.cmake' '*.cmake.in' |
    xargs grep -n 'CMAKE_SOURCE_DIR\|CMAKE_BINARY_DIR' | grep -v '(top-level check)'); then
    bad "CMake files use the top project's directories:"$'\n'"$hits"
fi

echo "== consumer project: add_subdirectory(), DOCSTORE_WITH_MIGRATE=OFF"
if ! cmake -S "$src/tests/cmake/consumer" -B "$tmp/b" -DDOCSTORE_DIR="$src" \
    -DDOCSTORE_WITH_MIGRATE=OFF -DDOCSTORE_BUILD_CLI=OFF -DDOCSTORE_WERROR=ON \
    >"$tmp/configure.log" 2>&1; then
    cat "$tmp/configure.log" >&2
    echo "FAIL: the consumer project does not configure" >&2
    exit 1
fi
grep -q '^DOCSTORE_BUILD_TESTS:BOOL=OFF' "$tmp/b/CMakeCache.txt" ||
    bad "libdocstore's tests are on by default in a subproject"
if ! cmake --build "$tmp/b" -j2 >"$tmp/build.log" 2>&1; then
    tail -n 40 "$tmp/build.log" >&2
    echo "FAIL: the consumer project does not build" >&2
    exit 1
fi
out=$("$tmp/b/consumer") || bad "the consumer failed: $out"
echo "$out"
so=$(find "$tmp/b/docstore" -name 'libdocstore.so' | head -n 1)
[ -n "$so" ] || { echo "FAIL: no libdocstore.so in the subproject's build" >&2; exit 1; }
if readelf -d "$so" | grep -q 'NEEDED.*libpq'; then
    bad "libdocstore.so built with DOCSTORE_WITH_MIGRATE=OFF links libpq"
fi
if nm -D --defined-only "$so" | grep -q ' docstore_migrate_'; then
    bad "libdocstore.so built with DOCSTORE_WITH_MIGRATE=OFF exports docstore_migrate_*"
fi

echo "== consumer project: install without the migration API"
cmake --install "$tmp/b" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; bad "cmake --install failed"; }
[ ! -e "$tmp/prefix/include/docstore/migrate.h" ] || bad "migrate.h installed"
if grep -q 'migrate\.h"' "$tmp/prefix/include/docstore/docstore.h"; then
    bad "the installed docstore.h includes migrate.h"
fi
if grep -q -- '-lpq' "$(find "$tmp/prefix" -name docstore.pc | head -n 1)"; then
    bad "docstore.pc names libpq"
fi
printf '#include <docstore/docstore.h>\nint main(void) { return docstore_version_number() > 0 ? 0 : 1; }\n' >"$tmp/t.c"
cc -std=c11 -Wall -Werror -I"$tmp/prefix/include" "$tmp/t.c" -o "$tmp/t" \
    -L"$(dirname "$(find "$tmp/prefix" -name 'libdocstore.so' | head -n 1)")" -ldocstore ||
    bad "a program does not build against the installed headers"

[ "$failures" = 0 ] || { echo "$failures failure(s)" >&2; exit 1; }
echo "subdir_test: OK"

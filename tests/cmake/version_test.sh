#!/usr/bin/env bash
# The version is in one place: the DOCSTORE_VERSION_MAJOR/MINOR/PATCH
# macros of include/docstore/common.h (CMake's project() reads them).
# Everything else that states it must agree:
#
#   version_test.sh SOURCE_DIR BUILD_DIR
#
# DOCSTORE_VERSION_STRING, the built docstore.pc and
# docstoreConfigVersion.cmake, the Python package (pyproject.toml and
# __version__) and the Node package (package.json).
set -euo pipefail
src=$(realpath "${1:?usage: version_test.sh SOURCE_DIR BUILD_DIR}")
build=$(realpath "${2:?usage: version_test.sh SOURCE_DIR BUILD_DIR}")
failures=0
bad() { printf 'FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }

h=$src/include/docstore/common.h
macro() { sed -n "s/^#define DOCSTORE_VERSION_$1 \(.*\)$/\1/p" "$h"; }
v="$(macro MAJOR).$(macro MINOR).$(macro PATCH)"
[[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "FAIL: no version in $h: '$v'" >&2; exit 1; }
echo "version (common.h): $v"

check() { # WHAT FOUND
    if [ "$2" != "$v" ]; then bad "$1 says '${2}', common.h says $v"; else echo "ok: $1"; fi
}
check DOCSTORE_VERSION_STRING "$(macro STRING | tr -d '"')"
check docstore.pc "$(sed -n 's/^Version: //p' "$build/docstore.pc")"
check docstoreConfigVersion.cmake \
    "$(sed -n 's/^set(PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/docstoreConfigVersion.cmake")"
check bindings/python/pyproject.toml \
    "$(sed -n 's/^version = "\(.*\)"$/\1/p' "$src/bindings/python/pyproject.toml")"
check 'bindings/python/docstore __version__' \
    "$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$src/bindings/python/docstore/__init__.py")"
check bindings/node/package.json \
    "$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$src/bindings/node/package.json")"

[ "$failures" = 0 ] || { echo "$failures failure(s)" >&2; exit 1; }
echo "version_test: OK"

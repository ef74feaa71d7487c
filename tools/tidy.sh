#!/usr/bin/env bash
# Static analysis of the library (src/ but the CLI) with clang-tidy and the
# checks of the top-level .clang-tidy (bugprone-*, clang-analyzer-*, cert-*
# minus the justified exclusions listed there); any finding fails.
#
#   tools/tidy.sh [BUILD_DIR]     (default build-tidy; configured here if
#                                  it has no compile_commands.json)
#   tools/tidy.sh BUILD_DIR FILE...   only those files
#
# A false positive is silenced where it occurs, with the check's name and
# the reason: `// NOLINTNEXTLINE(check-name)` after a comment saying why.
# About 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ME=tidy.sh
build=${1:-build-tidy}
shift || true
for t in clang-tidy run-clang-tidy; do
    command -v "$t" >/dev/null 2>&1 ||
        { echo "$ME: $t not found (tools/setup.sh installs clang-tidy)" >&2; exit 2; }
done
if [ ! -f "$build/compile_commands.json" ]; then
    cmake -S . -B "$build" -DDOCSTORE_BUILD_TESTS=OFF -DDOCSTORE_BUILD_BENCH=OFF \
        -DDOCSTORE_BUILD_DOCS=OFF >/dev/null
fi
if [ $# -gt 0 ]; then
    files=("$@")
else
    # every library layer; the CLI (src/cli) is a program of its own
    files=("$(pwd)/src/(?!cli/)[^/]+/")
fi
log=$(mktemp "${TMPDIR:-/tmp}/docstore-tidy.XXXXXX")
trap 'rm -f "$log"' EXIT
t0=$(date +%s)
if ! run-clang-tidy -p "$build" -j"$(nproc)" -quiet "${files[@]}" 2>&1 |
    sed 's/\x1b\[[0-9;]*m//g' >"$log"; then
    grep -E -A3 '(warning|error):' "$log" | grep -v '^clang-tidy' >&2 || cat "$log" >&2
    echo "$ME: clang-tidy found problems (above)" >&2
    exit 1
fi
if grep -qE '(warning|error): ' "$log"; then
    grep -E -A3 '(warning|error): ' "$log" >&2
    echo "$ME: clang-tidy found problems (above)" >&2
    exit 1
fi
echo "$ME: clean ($(($(date +%s) - t0)) s)"

#!/usr/bin/env bash
# Format gate: fails when a tracked *.c or *.h file differs from what
# clang-format (the pinned major version, with the top-level .clang-format)
# makes of it.
#
#   tools/check-format.sh         check; list the files that drift and show
#                                 the first lines of each diff
#   tools/check-format.sh --fix   rewrite the drifting files in place
#
# The version is pinned because clang-format's output changes between major
# versions: CI and developers must agree. tools/setup.sh installs it
# (Debian 12's clang-format, 14). Override with CLANG_FORMAT=/path.
set -euo pipefail
cd "$(dirname "$0")/.."

ME=check-format.sh
PINNED_MAJOR=14
CLANG_FORMAT=${CLANG_FORMAT:-}
if [ -z "$CLANG_FORMAT" ]; then
    for c in clang-format-$PINNED_MAJOR clang-format; do
        if command -v "$c" >/dev/null 2>&1; then CLANG_FORMAT=$c; break; fi
    done
fi
if [ -z "$CLANG_FORMAT" ]; then
    echo "$ME: clang-format $PINNED_MAJOR not found (run tools/setup.sh)" >&2
    exit 2
fi
major=$("$CLANG_FORMAT" --version | sed -n 's/.*version \([0-9][0-9]*\)\..*/\1/p')
if [ "$major" != "$PINNED_MAJOR" ]; then
    echo "$ME: $CLANG_FORMAT is version ${major:-unknown}, the tree is formatted with $PINNED_MAJOR" >&2
    exit 2
fi

fix=0
case ${1:-} in
    --fix) fix=1 ;;
    "") ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$ME: unknown option: $1 (see --help)" >&2; exit 2 ;;
esac

mapfile -t files < <(git ls-files -- '*.c' '*.h')
if [ "$fix" = 1 ]; then
    "$CLANG_FORMAT" -i --style=file "${files[@]}"
    echo "$ME: formatted ${#files[@]} files"
    exit 0
fi

# One clang-format process for the whole tree; it names each drifting file
# in a "code should be clang-formatted" warning.
mapfile -t bad < <("$CLANG_FORMAT" --style=file --dry-run --ferror-limit=1 "${files[@]}" 2>&1 |
    sed -n 's/^\(.*\):[0-9]*:[0-9]*: \(warning\|error\): code should be clang-formatted.*/\1/p' | sort -u)
if [ ${#bad[@]} -ne 0 ]; then
    echo "$ME: ${#bad[@]} file(s) differ from clang-format $PINNED_MAJOR:" >&2
    for f in "${bad[@]}"; do
        echo "--- $f" >&2
        "$CLANG_FORMAT" --style=file "$f" | diff -u "$f" - | sed -n '3,20p' >&2 || true
    done
    echo "$ME: fix with: bash tools/check-format.sh --fix" >&2
    exit 1
fi
echo "$ME: ${#files[@]} files formatted ($CLANG_FORMAT $major)"

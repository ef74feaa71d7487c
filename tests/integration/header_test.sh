#!/usr/bin/env bash
# Header test: every public header (include/docstore/*.h and
# include/docstore/sys/*.h, found by glob at run time so that a header added
# later is checked too) must compile on its own, included twice (include
# guard), as strict C99 and as C++11, with warnings as errors.
#
#   header_test.sh SOURCE_DIR [CC [CXX]]
set -euo pipefail

src=${1:?usage: header_test.sh SOURCE_DIR [CC [CXX]]}
cc=${2:-${CC:-cc}}
cxx=${3:-${CXX:-c++}}
inc=$src/include

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

shopt -s nullglob
headers=("$inc"/docstore/*.h "$inc"/docstore/sys/*.h)
if [ ${#headers[@]} -eq 0 ]; then
  echo "header_test: no headers under $inc/docstore" >&2
  exit 1
fi

cflags=(-std=c99 -pedantic -Wall -Wextra -Werror -Wstrict-prototypes
        -Wmissing-prototypes -Wshadow -Wundef -fsyntax-only)
cxxflags=(-std=c++11 -pedantic -Wall -Wextra -Werror -Wshadow -Wundef
          -fsyntax-only)

fail=0
for h in "${headers[@]}"; do
  rel=${h#"$inc"/}
  tu=$tmp/tu.c
  printf '#include <%s>\n#include <%s>\nint header_test_dummy;\n' \
    "$rel" "$rel" >"$tu"
  if "$cc" "${cflags[@]}" -I "$inc" "$tu" 2>"$tmp/err"; then
    echo "ok   C99   $rel"
  else
    echo "FAIL C99   $rel"; cat "$tmp/err"; fail=1
  fi
  if "$cxx" "${cxxflags[@]}" -I "$inc" -x c++ "$tu" 2>"$tmp/err"; then
    echo "ok   C++11 $rel"
  else
    echo "FAIL C++11 $rel"; cat "$tmp/err"; fail=1
  fi
done

echo "header_test: ${#headers[@]} headers checked"
exit $fail

#!/bin/sh
# Rewrite the settings reference table of docs/CONFIG.md from the settings
# schema (the table the unit test test_config_md_matches_schema expects).
# Usage: tools/update-config-reference.sh [BUILD_DIR]   (default: build)
set -eu
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
(cd "$here" && "$build/tests/test_config") >/dev/null 2>"$out" || true
python3 - "$here/docs/CONFIG.md" "$out" <<'PY'
import sys
doc_path, out_path = sys.argv[1], sys.argv[2]
log = open(out_path).read()
head = "docs/CONFIG.md's reference table should be:\n"
if head not in log:
    print("CONFIG.md's reference table is up to date")
    sys.exit(0)
table = log.split(head, 1)[1]
table = table.split("ERROR: docs/CONFIG.md", 1)[0]
doc = open(doc_path).read()
begin = doc.index("<!-- settings-reference: begin")
begin = doc.index("-->\n", begin) + 4
end = doc.index("<!-- settings-reference: end -->")
open(doc_path, "w").write(doc[:begin] + table + doc[end:])
print("CONFIG.md's reference table rewritten")
PY

#!/usr/bin/env python3
"""Layer check: a file of a lower src/ layer never includes a header of a
higher one, and a stable public header never includes a sys/ header.

    check_layers.py SOURCE_DIR

The layer order is read from docs/ARCHITECTURE.md, section "Layer order"
(the block after the `layer-order` marker): lowest first, one rank per
line; folders on one line separated by '|' are siblings (neither may
include the other); the public headers named after a folder belong to it.
A file may include headers of its own folder and of lower ranks.

Known exceptions (upward includes still to remove) are listed in
tools/layer_exceptions.txt as "FILE HEADER"; an exception that no longer
occurs is an error too, so the list only shrinks.
Exit status 0 only when everything holds.
"""
import os
import re
import sys

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def read_order(src):
    """({folder: rank}, {public header: folder}) from ARCHITECTURE.md."""
    text = open(os.path.join(src, "docs", "ARCHITECTURE.md"),
                encoding="utf-8").read()
    m = re.search(r"<!-- layer-order[^>]*-->\s*```text\n(.*?)```", text, re.S)
    if not m:
        sys.exit("check_layers: no layer-order block in docs/ARCHITECTURE.md")
    rank, headers = {}, {}
    for r, line in enumerate(l for l in m.group(1).splitlines() if l.strip()):
        for part in line.split("|"):
            words = part.split()
            folder = words[0]
            rank[folder] = r
            for h in words[1:]:
                headers[h] = folder
    return rank, headers


def layer_of_include(path, quote, name, src, headers):
    """Folder the included header belongs to, or None (a system header)."""
    if name in headers:
        return headers[name]
    if quote == "<":
        return None
    here = os.path.dirname(path)
    if os.path.exists(os.path.join(here, name)):
        return os.path.basename(here)
    first = name.split("/")[0]
    if "/" in name and os.path.isdir(os.path.join(src, "src", first)):
        return first
    if os.path.exists(os.path.join(src, "src", "common", name)):
        return "common"  # src/common is on the include path
    return None


def main():
    src = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    rank, headers = read_order(src)
    problems, found = [], set()

    files = []
    for folder in sorted(os.listdir(os.path.join(src, "src"))):
        d = os.path.join(src, "src", folder)
        if not os.path.isdir(d):
            continue
        if folder not in rank:
            problems.append("src/%s is not in the layer order of "
                            "docs/ARCHITECTURE.md" % folder)
            continue
        for f in sorted(os.listdir(d)):
            if f.endswith((".c", ".h")):
                files.append((os.path.join(d, f), folder))
    inc = os.path.join(src, "include")
    for h, folder in sorted(headers.items()):
        files.append((os.path.join(inc, h), folder))

    for path, folder in files:
        rel = os.path.relpath(path, src)
        text = open(path, encoding="utf-8").read()
        for quote, name in INCLUDE_RE.findall(text):
            if rel.startswith("include/"):
                # relative to the including header
                target = headers.get(os.path.normpath(os.path.join(
                    os.path.dirname(os.path.relpath(path, inc)), name)))
            else:
                target = layer_of_include(path, quote, name, src, headers)
            if target is None or target == folder:
                pass
            elif rank[target] >= rank[folder]:
                found.add((rel, name))
                continue
            # the stable API never pulls in the less stable sys/ interface
            if (rel.startswith("include/") and "/sys/" not in rel
                    and not rel.endswith("docstore.h") and "sys/" in name):
                found.add((rel, name))

    exceptions = {}
    exc_path = os.path.join(src, "tools", "layer_exceptions.txt")
    if os.path.exists(exc_path):
        for line in open(exc_path, encoding="utf-8"):
            words = line.split("#")[0].split()
            if len(words) == 2:
                exceptions[(words[0], words[1])] = line.strip()
    for rel, name in sorted(found):
        if (rel, name) not in exceptions:
            problems.append("%s includes %s: a header of a higher layer "
                            "(or a sys/ header in the stable API)" % (rel, name))
    for key in sorted(set(exceptions) - found):
        problems.append("tools/layer_exceptions.txt: '%s %s' no longer "
                        "occurs: remove the line" % key)
    for key in sorted(set(exceptions) & found):
        print("check_layers: known exception: %s includes %s" % key)

    for p in problems:
        print("check_layers: " + p)
    print("check_layers: %d files checked, %d problem(s)"
          % (len(files), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

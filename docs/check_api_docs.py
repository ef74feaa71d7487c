#!/usr/bin/env python3
"""API reference check: run doxygen on the public headers and fail on any
warning, then read its XML output and check that every public name the
headers declare is documented, and every function and type says since
which version it exists (@since).

    check_api_docs.py DOXYGEN SOURCE_DIR OUTPUT_DIR

Doxygen runs from SOURCE_DIR with docs/Doxyfile and writes OUTPUT_DIR/html
and OUTPUT_DIR/xml.  Exit status 0 only when everything holds.
"""
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

# Public names, read from the headers themselves (so that a name added
# later is checked without touching this script).
FUNC_RE = re.compile(r"DOCSTORE_EXTERN\s[^;(]*?\b(docstore_\w+)\s*\(", re.S)
FUNC_PTR_TYPEDEF_RE = re.compile(r"typedef\s[^;(]*\(\s*\*\s*(docstore_\w+)\s*\)")
TYPEDEF_RE = re.compile(r"\}\s*(docstore_\w+)\s*;|typedef\s+struct\s+\w+\s+(docstore_\w+)\s*;")
DEFINE_RE = re.compile(r"^#define\s+(DOCSTORE_\w+)", re.M)


def fail(problems):
    for p in problems:
        print("check_api_docs: " + p)
    print("check_api_docs: %d problem(s)" % len(problems))
    return 1


def public_names(src):
    """{name: kind} of every public function, type and macro."""
    inc = os.path.join(src, "include", "docstore")
    headers = sorted(
        os.path.join(d, f)
        for d in (inc, os.path.join(inc, "sys"))
        for f in os.listdir(d)
        if f.endswith(".h"))
    names = {}
    for h in headers:
        text = open(h, encoding="utf-8").read()
        # comments out, so that prose cannot look like a declaration
        code = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        for m in FUNC_RE.finditer(code):
            names[m.group(1)] = "function"
        for m in FUNC_PTR_TYPEDEF_RE.finditer(code):
            names[m.group(1)] = "typedef"
        for m in TYPEDEF_RE.finditer(code):
            names[m.group(1) or m.group(2)] = "typedef"
        for m in DEFINE_RE.finditer(code):
            if not m.group(1).endswith("_H"):  # include guards
                names[m.group(1)] = "define"
    return headers, names


def text_of(elem):
    return "".join(elem.itertext()).strip() if elem is not None else ""


def documented(member):
    return bool(text_of(member.find("briefdescription")) or
                text_of(member.find("detaileddescription")))


def has_since(elem):
    """@since in the element's own description (not in its fields')."""
    return any(elem.find(part + "//simplesect[@kind='since']") is not None
               for part in ("briefdescription", "detaileddescription"))


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    doxygen, src, out = argv[1], os.path.abspath(argv[2]), os.path.abspath(argv[3])
    problems = []

    # 1. doxygen itself: no warning at all (the Doxyfile also fails the run).
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    env = dict(os.environ, DOCSTORE_DOCS_OUT=out)
    try:
        run = subprocess.run([doxygen, "docs/Doxyfile"], cwd=src, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True)
    except OSError as e:
        return fail(["cannot run %s (%s): install doxygen (tools/setup.sh "
                     "does)" % (doxygen, e.strerror)])
    lines = [l for l in run.stdout.splitlines() if l.strip()]
    for l in lines:
        print(l)
    if run.returncode != 0:
        problems.append("doxygen exited with status %d" % run.returncode)
    if lines:
        problems.append("doxygen printed %d line(s) of warnings" % len(lines))
    index = os.path.join(out, "xml", "index.xml")
    if not os.path.exists(os.path.join(out, "html", "index.html")) or \
       not os.path.exists(index):
        problems.append("doxygen wrote no html/index.html or xml/index.xml")
        return fail(problems)

    # 2. every public name is in the reference, documented; functions and
    #    types carry @since.
    headers, names = public_names(src)
    if not any(k == "function" for k in names.values()):
        problems.append("no DOCSTORE_EXTERN function found in the headers")
    xmldir = os.path.dirname(index)
    members = {}  # name -> list of memberdef elements
    compounds = {}  # struct name -> compounddef
    for c in ET.parse(index).getroot().findall("compound"):
        tree = ET.parse(os.path.join(xmldir, c.get("refid") + ".xml"))
        for cd in tree.getroot().findall("compounddef"):
            if cd.get("kind") == "struct":
                compounds[text_of(cd.find("compoundname"))] = cd
            for md in cd.iter("memberdef"):
                members.setdefault(text_of(md.find("name")), []).append(md)

    kinds = {"function": ("function",), "define": ("define",),
             "typedef": ("typedef", "enum")}
    for name, kind in sorted(names.items()):
        found = [m for m in members.get(name, []) if m.get("kind") in kinds[kind]]
        if kind == "typedef" and name in compounds:
            found.append(compounds[name])  # typedef struct {...} name
        if not found:
            problems.append("%s %s is not in the reference" % (kind, name))
            continue
        if not any(documented(m) for m in found):
            problems.append("%s %s is not documented" % (kind, name))
        if kind in ("function", "typedef") and not any(has_since(m) for m in found):
            problems.append("%s %s has no @since" % (kind, name))

    # 3. every header is a documented file in the reference.
    for h in headers:
        rel = os.path.relpath(h, os.path.join(src, "include"))
        if not re.search(r"@file\s+%s\b" % re.escape(rel),
                         open(h, encoding="utf-8").read()):
            problems.append("%s has no '@file %s' block" % (rel, rel))

    if problems:
        return fail(problems)
    print("check_api_docs: %d public names documented in %d headers; "
          "reference in %s" % (len(names), len(headers),
                               os.path.join(out, "html", "index.html")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

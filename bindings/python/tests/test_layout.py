# The ctypes mirrors of the public structs have the C layout: the same
# fields in the same order, at the same offsets, of the same sizes, and the
# same struct size and alignment, as the compiler sees them
# (tests/abi/layout_dump.c).  Any drift between a header and a mirror
# fails here.
# SPDX-License-Identifier: Apache-2.0
import ctypes
import glob
import os
import re

import pytest

import docstore  # noqa: F401 - imports every mirror
from docstore import _ffi
from helpers import SOURCE_DIR, layout_dump


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    return layout_dump(tmp_path_factory.mktemp("layout"))


def mirrors():
    found, todo = {}, [_ffi.CStruct]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls._c_name:
            assert cls._c_name not in found, "two mirrors of " + cls._c_name
            found[cls._c_name] = cls
    return found


def differences(cls, c):
    """What differs between a ctypes mirror and the C layout `c`."""
    diffs = []
    fields = [(cls._c_renamed.get(name, name), getattr(cls, name))
              for name, _ in cls._fields_]
    names = [n for n, _ in fields]
    c_names = [f["name"] for f in c["fields"]]
    if names != c_names:
        diffs.append("fields %s, C has %s" % (names, c_names))
    for (name, f), cf in zip(fields, c["fields"]):
        if (f.offset, f.size) != (cf["offset"], cf["size"]):
            diffs.append("%s at %d (%d bytes), C: at %d (%d bytes)" % (
                name, f.offset, f.size, cf["offset"], cf["size"]))
    if ctypes.sizeof(cls) != c["size"]:
        diffs.append("size %d, C: %d" % (ctypes.sizeof(cls), c["size"]))
    if ctypes.alignment(cls) != c["align"]:
        diffs.append("alignment %d, C: %d" % (ctypes.alignment(cls),
                                               c["align"]))
    return diffs


def test_every_public_struct_is_mirrored(layout):
    assert set(mirrors()) == set(layout)
    assert len(layout) >= 12


def test_mirrors_have_the_c_layout(layout):
    problems = {name: differences(cls, layout[name])
                for name, cls in mirrors().items()}
    assert {k: v for k, v in problems.items() if v} == {}


def test_a_drifted_mirror_is_caught(layout):
    class Reordered(_ffi.CStruct):
        _c_name = "test_reordered"
        _fields_ = [("version", ctypes.c_uint), ("fsync", ctypes.c_int),
                    ("root", ctypes.c_char_p)]

    class Narrow(_ffi.CStruct):
        _c_name = "test_narrow"
        _fields_ = [("version", ctypes.c_uint), ("size", ctypes.c_uint),
                    ("mtime", ctypes.c_int64), ("key", ctypes.c_char_p),
                    ("etag", ctypes.c_char_p)]
    try:
        d = differences(Reordered, layout["docstore_local_options"])
        assert any(x.startswith("fields ") for x in d)
        d = differences(Narrow, layout["docstore_object_info"])
        assert "size at 4 (4 bytes), C: at 8 (8 bytes)" in d
    finally:
        # Not a mirror of anything: keep them out of mirrors().
        Reordered._c_name = Narrow._c_name = None


def _header_structs():
    """{struct name: [field names]} of every `typedef struct x {...} x;`
    in include/docstore (a function pointer field gives its name)."""
    structs = {}
    include = os.path.join(SOURCE_DIR, "include", "docstore")
    for h in glob.glob(os.path.join(include, "**", "*.h"), recursive=True):
        with open(h) as f:
            text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", f.read(), flags=re.S)
        for name, body in re.findall(
                r"typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*\1\s*;", text,
                re.S):
            fields = []
            for decl in body.split(";"):
                decl = decl.strip()
                if not decl:
                    continue
                fp = re.search(r"\(\s*\*\s*(\w+)\s*\)", decl)
                fields.append(fp.group(1) if fp else
                              re.findall(r"\w+", decl)[-1])
            structs[name] = fields
    return structs


def test_layout_dump_covers_every_field_of_the_headers(layout):
    """layout_dump.c lists its fields by hand: a field added to a header
    but not there fails here."""
    structs = _header_structs()
    assert "docstore_provider_ops" in structs
    assert structs["docstore_provider_ops"][4] == "head"
    # docstore_s3_options has no mirror: S3StorageProvider sets settings
    # (bindings/python/docstore/_s3_options.py).
    not_mirrored = {"docstore_s3_options"}
    assert not_mirrored <= set(structs)
    assert {name: [f["name"] for f in s["fields"]]
            for name, s in layout.items()} == {
        name: fields for name, fields in structs.items()
        if name not in not_mirrored}

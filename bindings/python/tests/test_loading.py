# How the package finds libdocstore, and what it says when it cannot.  Each
# case runs in a child interpreter (a process loads the library once).
# SPDX-License-Identifier: Apache-2.0
import ctypes.util
import os
import shutil
import subprocess
import sys

import docstore
from docstore import _ffi

PKG = os.path.dirname(os.path.dirname(os.path.abspath(docstore.__file__)))
PROBE = ("import docstore, docstore._ffi as f\n"
         "try:\n"
         "    f.lib()\n"
         "    print('LOADED', f.lib()._name)\n"
         "except docstore.LibraryNotFoundError as e:\n"
         "    print('TRIED', len(e.tried))\n"
         "    print(e)\n")


def probe(pkg_parent, **env):
    e = {k: v for k, v in os.environ.items()
         if k not in ("DOCSTORE_LIBRARY", "LD_LIBRARY_PATH")}
    e.update(env)
    e["PYTHONPATH"] = pkg_parent
    out = subprocess.run([sys.executable, "-c", PROBE], env=e, check=True,
                         capture_output=True, text=True, cwd=pkg_parent)
    return out.stdout


def copy_package(tmp_path):
    dest = tmp_path / "site"
    shutil.copytree(os.path.join(PKG, "docstore"), dest / "docstore",
                    ignore=shutil.ignore_patterns("__pycache__",
                                                  "libdocstore*"))
    return dest


def test_explicit_path_that_fails_is_an_error(tmp_path):
    missing = str(tmp_path / "nope" / "libdocstore.so")
    out = probe(str(copy_package(tmp_path)), DOCSTORE_LIBRARY=missing)
    assert out.startswith("TRIED 1\n")
    assert "DOCSTORE_LIBRARY=" + missing in out
    assert "Set DOCSTORE_LIBRARY" in out


def test_a_library_that_is_not_libdocstore_is_refused(tmp_path):
    libc = ctypes.util.find_library("c")
    out = probe(str(copy_package(tmp_path)), DOCSTORE_LIBRARY=libc)
    assert "lacks a function" in out and "docstore_" in out


def test_package_folder_then_system_path(tmp_path):
    site = copy_package(tmp_path)
    out = probe(str(site))
    if ctypes.util.find_library("docstore") is None:
        # Nothing installed system-wide: every place is listed.
        assert out.startswith("TRIED 4\n"), out
        assert "DOCSTORE_LIBRARY: not set" in out
        assert "no libdocstore there" in out
        assert "find_library('docstore'): nothing found" in out
        assert "libdocstore.so.0" in out
    else:
        assert out.startswith("LOADED"), out
    # A copy of the library in the package folder is found next.
    built = _ffi.lib()._name
    shutil.copy(built, site / "docstore" / "libdocstore.so.0")
    out = probe(str(site))
    assert out.strip() == "LOADED %s" % (site / "docstore" /
                                         "libdocstore.so.0"), out


def test_relative_library_path_survives_chdir(tmp_path):
    built = _ffi.lib()._name
    shutil.copy(built, tmp_path / "libdocstore.so")
    site = copy_package(tmp_path)
    e = {k: v for k, v in os.environ.items() if k != "DOCSTORE_LIBRARY"}
    e.update(PYTHONPATH=str(site), DOCSTORE_LIBRARY="./libdocstore.so")
    code = ("import os, docstore\nos.chdir('/')\n"
            "print(docstore.library_version())")
    out = subprocess.run([sys.executable, "-c", code], env=e, check=True,
                         capture_output=True, text=True, cwd=str(tmp_path))
    assert out.stdout.strip() == docstore.__version__


def test_every_declared_function_exists():
    lib = _ffi.lib()
    declared = _ffi._CORE
    for name, (restype, argtypes) in list(declared.items()) + \
            list(_ffi._MIGRATE.items()):
        fn = getattr(lib, name)
        # Called through CFunction, which checks the arguments first.
        assert isinstance(fn, _ffi.CFunction), name
        assert fn.raw.restype is restype and fn.raw.argtypes == argtypes, name
    assert _ffi.has_migrate()


def test_every_public_function_is_declared():
    """Every DOCSTORE_EXTERN function of include/docstore/*.h has its
    argtypes/restype in _ffi (a new header function fails this test until
    the binding declares it)."""
    import glob
    import re
    include = os.path.join(PKG, "..", "..", "include", "docstore")
    headers = glob.glob(os.path.join(include, "*.h")) + \
        glob.glob(os.path.join(include, "sys", "*.h"))
    assert headers
    public = set()
    for h in headers:
        with open(h) as f:
            text = f.read()
        public |= set(re.findall(
            r"DOCSTORE_EXTERN\b[^;(]*?\b(docstore_\w+)\s*\(", text))
    declared = set(_ffi._CORE) | set(_ffi._MIGRATE)
    assert len(public) > 80
    # The S3 options functions: S3StorageProvider goes through settings.
    assert public - declared == set(_ffi.NOT_DECLARED)
    assert declared - public == set()


def test_every_s3_keyword_is_a_setting():
    """S3StorageProvider's keyword arguments are the `field`s of the S3
    settings of the schema, one for one (a new S3 setting, or a keyword
    without a setting, fails here)."""
    import inspect
    from docstore import _s3_options
    keywords = set(inspect.signature(
        docstore.S3StorageProvider.__init__).parameters) - {"self"}
    schema = _s3_options._schema()
    assert set(schema) == keywords
    assert _ffi.dec(schema["bucket"].name) == "S3_BUCKET"
    assert _ffi.dec(schema["insecure_skip_verify"].name) == "S3_VERIFY_TLS"

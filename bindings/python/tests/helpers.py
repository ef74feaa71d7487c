# Helpers of the Python binding tests (importable from test bodies).
# SPDX-License-Identifier: Apache-2.0
import base64
import json
import os
import socket
import subprocess
import sys


def closed_port():
    """A TCP port on 127.0.0.1 that nothing listens on (connection
    refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def s3_settings():
    """The seed's config dict for the S3 test server, or None."""
    names = ("S3_ENDPOINT_URL", "S3_BUCKET", "S3_ACCESS_KEY", "S3_SECRET_KEY")
    if not all(os.environ.get(n) for n in names):
        return None
    settings = {n: os.environ[n] for n in names}
    settings["STORAGE_TYPE"] = "s3"
    settings["S3_REGION"] = os.environ.get("S3_REGION", "us-east-1")
    return settings


_LEGACY_WRITER = r"""
import base64, json, sys
try:  # Debian's python3-pycryptodome installs it as Cryptodome
    from Cryptodome.Cipher import AES, PKCS1_OAEP
    from Cryptodome.PublicKey import RSA
    from Cryptodome.Random import get_random_bytes
except ImportError:
    from Crypto.Cipher import AES, PKCS1_OAEP
    from Crypto.PublicKey import RSA
    from Crypto.Random import get_random_bytes
args = json.load(sys.stdin)
key = RSA.import_key(args["pem"]).publickey()
session_key = get_random_bytes(32)
enc_session_key = PKCS1_OAEP.new(key).encrypt(session_key)
cipher = AES.new(session_key, AES.MODE_GCM)
ct, tag = cipher.encrypt_and_digest(base64.b64decode(args["data"]))
b64 = lambda b: base64.b64encode(b).decode()
json.dump({"enc_session_key": b64(enc_session_key), "nonce": b64(cipher.nonce),
           "tag": b64(tag), "ciphertext": b64(ct)}, sys.stdout)
"""


def legacy_envelope(plaintext, private_pem):
    """An envelope as the former Python backend wrote it (PyCryptodome
    PKCS1_OAEP + AES.MODE_GCM, defaults), as a dict.  Made in a child
    process: PyCryptodome dlopens with RTLD_DEEPBIND, which an
    AddressSanitizer runtime preloaded for a sanitized libdocstore
    refuses."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    out = subprocess.run(
        [sys.executable, "-c", _LEGACY_WRITER], env=env, check=True,
        capture_output=True, input=json.dumps({
            "pem": private_pem,
            "data": base64.b64encode(plaintext).decode()}).encode())
    return json.loads(out.stdout)


def bytes_to_dict(data):
    """The backend's helper of the same name."""
    return json.loads(data.decode("utf-8"))


def rss_bytes():
    """Resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..",
                                          "..", ".."))


def layout_dump(workdir):
    """The C layout of the public structs (tests/abi/layout_dump.c) as a
    dict: the program CTest built (DOCSTORE_LAYOUT_DUMP), else one compiled
    here with the system C compiler ($CC or cc) into `workdir`."""
    program = os.environ.get("DOCSTORE_LAYOUT_DUMP")
    if not program:
        program = os.path.join(str(workdir), "layout_dump")
        subprocess.run([os.environ.get("CC", "cc"), "-std=c11",
                        "-I", os.path.join(SOURCE_DIR, "include"),
                        os.path.join(SOURCE_DIR, "tests", "abi",
                                     "layout_dump.c"), "-o", program],
                       check=True)
    out = subprocess.run([program], check=True, capture_output=True)
    return json.loads(out.stdout)

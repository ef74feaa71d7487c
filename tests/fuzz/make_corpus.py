#!/usr/bin/python3
"""Writes the seed corpora of tests/fuzz/corpus/ (committed; run again only
to change them).

    /usr/bin/python3 tests/fuzz/make_corpus.py BUILD_DIR
    /usr/bin/python3 tests/fuzz/make_corpus.py --vectors   # vec_* seeds only

BUILD_DIR holds the `docstore` CLI, which seals the v1 envelopes; the
legacy ones are made with PyCryptodome as the Python backend made them
(tests/interop/legacy_backend.py), all under the test-only key
tests/interop/fixtures/format_example_key.pem that fuzz_envelope loads.
Envelopes are random (fresh AES keys and nonces), so each run gives other
bytes with the same shapes.
"""
import base64
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
KEY = os.path.join(TOP, "tests", "interop", "fixtures", "format_example_key.pem")
CORPUS = os.path.join(HERE, "corpus")
SUITE = os.path.join(TOP, "tests", "data", "aws-sigv4-test-suite")

sys.path.insert(0, os.path.join(TOP, "tests", "interop"))


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


# ------------------------------------------------------------- envelope

def envelopes(build):
    import legacy_backend
    cli = os.path.join(build, "docstore")
    with open(KEY, "rb") as f:
        private_pem = f.read()
    from Cryptodome.PublicKey import RSA
    public_pem = RSA.import_key(private_pem).public_key().export_key()
    tmp = tempfile.mkdtemp()
    pub = os.path.join(tmp, "public.pem")
    with open(pub, "wb") as f:
        f.write(public_pem)

    def run(*args, data=b""):
        src = os.path.join(tmp, "in")
        dst = os.path.join(tmp, "out")
        with open(src, "wb") as f:
            f.write(data)
        subprocess.run([cli, "--no-env-file", *args, src, dst], check=True)
        with open(dst, "rb") as f:
            return f.read()

    def seal(data, *ids):
        return run("encrypt", "--public-key", pub, *ids, data=data)

    v1 = seal(b"passport scan", "--file-id", "doc-1", "--user-id", "u-7")
    write("envelope", "v1_user.json", v1)
    write("envelope", "v1_system.json", seal(b"licence", "--file-id", "doc-2"))
    unbound = seal(b"x")
    write("envelope", "v1_unbound.json", unbound)
    write("envelope", "v1_empty_document.json", seal(b""))
    # Same members, other order and whitespace; ciphertext with an escape
    # (the parser then reads the text whole, without cutting it out).
    doc = json.loads(v1)
    write("envelope", "v1_reordered.json",
          json.dumps(dict(reversed(list(doc.items()))), indent=2))
    ct = doc["ciphertext"]
    escaped = v1.decode().replace('"%s"' % ct, '"\\u00%02x%s"' % (ord(ct[0]), ct[1:]))
    write("envelope", "v1_escaped_ciphertext.json", escaped)

    for n in (16, 32):
        legacy = json.dumps(legacy_backend.encrypt_document(
            public_pem, b"legacy document", session_key_len=n)).encode()
        write("envelope", "legacy_%d.json" % n, legacy)
    src = os.path.join(tmp, "legacy")
    with open(src, "wb") as f:
        f.write(legacy)
    dst = os.path.join(tmp, "noaad")
    subprocess.run([cli, "--no-env-file", "rewrap", "--to-key", pub,
                    "--private-key", KEY, src, dst], check=True)
    with open(dst, "rb") as f:
        write("envelope", "v1_noaad_from_legacy.json", f.read())

    newer = dict(doc, version=2)
    write("envelope", "v2_unsupported.json", json.dumps(newer))
    write("envelope", "v2_binary_frames.bin",
          b'{"format":"docstore-envelope","version":2}\x00\x01frame')
    write("envelope", "duplicate_member.json",
          v1.decode().replace('{', '{"nonce":"AAAAAAAAAAAAAAAA",', 1))
    write("envelope", "nested_ciphertext.json",
          '{"x":{"ciphertext":"QUJD"},"enc_session_key":"QUJD",'
          '"nonce":"AAAAAAAAAAAAAAAAAAAAAA==","tag":"AAAAAAAAAAAAAAAAAAAAAA==",'
          '"ciphertext":"QUJD"}')
    write("envelope", "truncated.json", v1[:len(v1) // 2])
    write("envelope", "data_after.json", unbound + b" {}")


# --------------------------------------------------------------- dotenv

def dotenvs():
    write("dotenv", "seed_aws.env",
          "# For AWS S3\nSTORAGE_TYPE=s3\nS3_ACCESS_KEY=AKIA1234567890ABCDEF\n"
          "S3_SECRET_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
          "S3_BUCKET=bank-documents\nS3_REGION=us-east-1\n")
    write("dotenv", "seed_minio.env",
          "STORAGE_TYPE=s3\nS3_ACCESS_KEY=minioadmin\nS3_SECRET_KEY=minioadmin\n"
          "S3_BUCKET=bank-documents\n"
          "S3_ENDPOINT_URL=https://s3.amazonaws.com # Optional, for MinIO\n")
    write("dotenv", "quoting.env",
          "\xef\xbb\xbfexport STORAGE_TYPE='LOCAL'\r\n"
          "LOCAL_STORAGE_PATH=\"/srv/docs dir/\\t\\\"x\\\"\"  # comment\r\n"
          "  DOCSTORE_LOG_LEVEL = WARNING\n"
          "S3_MULTIPART_PART_SIZE=8M\nS3_VERIFY_TLS=no\nS3_MAX_ATTEMPTS=20\n"
          "OTHER_APP_SETTING=ignored#not a comment\nEMPTY=\n")
    write("dotenv", "aws_fallback.env",
          "AWS_ACCESS_KEY_ID=AKIAEXAMPLE123456789\n"
          "AWS_SECRET_ACCESS_KEY=Zx9SecretValueExample123\n"
          "AWS_SESSION_TOKEN=\"Tok3nValueExampleAbc\"\nAWS_REGION=eu-west-1\n"
          "STORAGE_TYPE=s3\nS3_BUCKET=b1\n")
    write("dotenv", "bad_secret.env",
          "S3_SECRET_KEY=Secr3t Value With Spaces\n")
    write("dotenv", "bad_url_credentials.env",
          "S3_ENDPOINT_URL=http://user:Passw0rdXyz@minio:9000\n")
    write("dotenv", "bad_number.env", "S3_MAX_ATTEMPTS=0x10\n")
    write("dotenv", "unterminated.env", "S3_BUCKET=\"bank-documents\n")
    write("dotenv", "nul_byte.env", b"S3_BUCKET=a\nS3_REGION=us\x00east-1\n")
    write("dotenv", "no_equals.env", "STORAGE_TYPE s3\n")
    write("dotenv", "after_quote.env", "S3_BUCKET='a' b\n")


# --------------------------------------------------------------- s3_xml

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def s3_replies():
    head = '<?xml version="1.0" encoding="UTF-8"?>\n'
    write("s3_xml", "error_nosuchkey.xml", head +
          "<Error><Code>NoSuchKey</Code><Message>The specified key does not "
          "exist.</Message><Key>documents/a.json</Key>"
          "<RequestId>4442587FB7D0A2F9</RequestId></Error>")
    write("s3_xml", "error_redirect.xml", head +
          "<Error><Code>PermanentRedirect</Code><Message>The bucket you are "
          "attempting to access must be addressed using the specified "
          "endpoint.</Message><Endpoint>bank-documents.s3.eu-west-1."
          "amazonaws.com</Endpoint><Bucket>bank-documents</Bucket></Error>")
    write("s3_xml", "error_region.xml",
          "<Error><Code>AuthorizationHeaderMalformed</Code><Message>the "
          "region 'us-east-1' is wrong; expecting 'eu-west-1'</Message>"
          "<Region>eu-west-1</Region><RequestId>R1</RequestId></Error>")
    write("s3_xml", "error_slowdown_entities.xml",
          "<Error><Code>SlowDown</Code><Message>Please &amp; reduce &lt;"
          "rate&gt; &#x263A;</Message></Error>")
    write("s3_xml", "list_page1.xml", head +
          "<ListBucketResult %s><Name>b</Name><Prefix>documents/</Prefix>"
          "<KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true"
          "</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgv"
          "eDs2J/wm36Hy4vbOwM=</NextContinuationToken><Contents><Key>"
          "documents/system/2024/01/02/f1_a.pdf_pdf.json</Key><LastModified>"
          "2024-01-02T10:20:30.000Z</LastModified><ETag>&quot;9b2cf535f27731"
          "c974343645a3985328&quot;</ETag><Size>1234</Size><StorageClass>"
          "STANDARD</StorageClass></Contents><Contents><Key>documents/x.json"
          "</Key><LastModified>2024-02-29T23:59:59Z</LastModified><ETag>"
          "\"abc-2\"</ETag><Size>0</Size></Contents></ListBucketResult>" % NS)
    write("s3_xml", "list_last_urlencoded.xml",
          "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>"
          "false</IsTruncated><Contents><Key>documents/a+b%C3%A9%2Fc.json"
          "</Key><Size>18446744073709551615</Size></Contents>"
          "</ListBucketResult>")
    write("s3_xml", "list_empty.xml",
          "<ListBucketResult %s><Name>b</Name><KeyCount>0</KeyCount>"
          "<IsTruncated>false</IsTruncated></ListBucketResult>" % NS)
    write("s3_xml", "list_truncated_no_token.xml",
          "<ListBucketResult><IsTruncated>true</IsTruncated>"
          "</ListBucketResult>")
    write("s3_xml", "initiate.xml", head +
          "<InitiateMultipartUploadResult %s><Bucket>b</Bucket><Key>k</Key>"
          "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9h"
          "ZA</UploadId></InitiateMultipartUploadResult>" % NS)
    write("s3_xml", "complete_error_in_200.xml", head + "\n\n" +
          "<Error><Code>InternalError</Code><Message>We encountered an "
          "internal error. Please try again.</Message></Error>")
    write("s3_xml", "complete_result.xml", head +
          "<CompleteMultipartUploadResult %s><Location>http://b.s3/k"
          "</Location><Bucket>b</Bucket><Key>k</Key><ETag>\"3858f62230ac3c91"
          "5f300c664312c11f-9\"</ETag></CompleteMultipartUploadResult>" % NS)
    write("s3_xml", "etags_and_dates.bin",
          b'"etag-1"\x00"etag-2 & <3>"\x002024-01-15T10:20:30.123456Z')
    write("s3_xml", "uploads_page1.xml", head +
          "<ListMultipartUploadsResult %s><Bucket>b</Bucket><KeyMarker>"
          "</KeyMarker><UploadIdMarker></UploadIdMarker><NextKeyMarker>"
          "documents/user_7/2024/01/02/f%%C3%%A9+2.json</NextKeyMarker>"
          "<NextUploadIdMarker>ZTQ0NmQ5YTgtYjIwNi00NWE0</NextUploadIdMarker>"
          "<EncodingType>url</EncodingType><MaxUploads>2</MaxUploads>"
          "<IsTruncated>true</IsTruncated><Upload><Key>documents/system/2024/"
          "01/02/f1_a.pdf_pdf.json</Key><UploadId>VXBsb2FkIElEIGZvciBlbHZp"
          "bmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId><Initiator><ID>"
          "arn:aws:iam::111122223333:user/x</ID><DisplayName>x</DisplayName>"
          "</Initiator><Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeeb"
          "f76c078efc7c6caea54ba06a</ID></Owner><StorageClass>STANDARD"
          "</StorageClass><Initiated>2024-01-02T10:20:30.000Z</Initiated>"
          "</Upload><Upload><Key>documents/user_7/2024/01/02/f%%C3%%A9+2.json"
          "</Key><UploadId>ZTQ0NmQ5YTgtYjIwNi00NWE0</UploadId><Initiated>"
          "2024-01-02T10:20:31Z</Initiated></Upload>"
          "</ListMultipartUploadsResult>" % NS)
    write("s3_xml", "uploads_swift_last.xml", head +
          "<ListMultipartUploadsResult %s><Bucket>b</Bucket><KeyMarker/>"
          "<UploadIdMarker/><NextKeyMarker>k</NextKeyMarker>"
          "<NextUploadIdMarker>u1</NextUploadIdMarker><MaxUploads>1000"
          "</MaxUploads><IsTruncated>false</IsTruncated><Upload><Key>k</Key>"
          "<UploadId>u1</UploadId><Initiator><ID>test:tester</ID>"
          "</Initiator><StorageClass>STANDARD</StorageClass><Initiated>"
          "2026-12-06T09:30:00.000Z</Initiated></Upload>"
          "</ListMultipartUploadsResult>" % NS)
    write("s3_xml", "uploads_truncated_no_marker.xml",
          "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>"
          "<Upload><Key>k</Key><UploadId>u</UploadId><Initiated>"
          "2024-01-02T10:20:30Z</Initiated></Upload>"
          "</ListMultipartUploadsResult>")
    write("s3_xml", "doctype_entity.xml",
          '<?xml version="1.0"?><!DOCTYPE Error [<!ENTITY e "EntityValue">'
          '<!ENTITY x SYSTEM "file:///etc/hostname">]>'
          "<Error><Code>&e;</Code><Message>&x;</Message></Error>")


# ---------------------------------------------------------------- sigv4

F_QUERY_FORM, F_NORMALIZE, F_DOUBLE_ENCODE, F_CONTENT_SHA = 1, 2, 4, 8
F_TOKEN_AFTER, F_TARGET, F_TIMESTAMP, F_CACHE = 16, 32, 64, 128


def sigv4_seed(flags, expires, method, path, query, payload_hash, date,
               token, region, service, access_key, headers):
    fields = [method, path, query, payload_hash, date, token, region,
              service, access_key]
    for name, value in headers:
        fields += [name, value]
    return bytes([flags, expires]) + b"\0".join(f.encode() for f in fields)


def sigv4_seeds():
    names = sorted(os.listdir(SUITE))
    for name in names:
        req = os.path.join(SUITE, name, "request.txt")
        if not os.path.exists(req):
            continue
        with open(req, "rb") as f:
            text = f.read().decode()
        head = text.split("\n\n", 1)[0]
        lines = head.split("\n")
        method, target = lines[0].split(" ")[0], " ".join(lines[0].split(" ")[1:-1])
        headers = []
        for line in lines[1:]:
            if not line:
                continue
            if line.startswith((" ", "\t")) and headers:
                headers[-1] = (headers[-1][0], headers[-1][1] + "\n" + line)
                continue
            k, v = line.split(":", 1)
            if k.lower() in ("x-amz-date", "x-amz-security-token"):
                continue
            headers.append((k, v))
        for form in (0, F_QUERY_FORM):
            write("sigv4", "%s%s" % (name, "-query" if form else ""),
                  sigv4_seed(F_TARGET | F_NORMALIZE | F_DOUBLE_ENCODE | form,
                             1, method, target, "", "", "20150830T123600Z", "",
                             "us-east-1", "service", "AKIDEXAMPLE", headers))
    # S3 style: single-encoded path, content hash header, a session token.
    write("sigv4", "s3-put-object",
          sigv4_seed(F_CONTENT_SHA | F_CACHE, 0, "PUT",
                     "/bank-documents/documents/user_1/2024/01/02/a%20b%2Bc.json",
                     "", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
                     "20240102T030405Z", "FwoGZXIvYXdzEJr//////////wEaDO", "eu-west-1", "s3",
                     "AKIAIOSFODNN7EXAMPLE",
                     [("Host", "127.0.0.1:8080"), ("Content-Type", "application/json"),
                      ("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg==")]))
    write("sigv4", "s3-list-objects",
          sigv4_seed(F_CONTENT_SHA | F_TIMESTAMP, 0, "GET", "/bank-documents",
                     "list-type=2&prefix=documents%2F&continuation-token=1ue%2Bx%3D&encoding-type=url",
                     "", "1704164645", "", "us-east-1", "s3", "minioadmin",
                     [("host", "minio:9000")]))
    write("sigv4", "s3-presign-get",
          sigv4_seed(F_QUERY_FORM, 36, "GET", "/bank-documents/documents/x.json",
                     "response-content-disposition=attachment%3B%20filename%3D%22a.pdf%22",
                     "UNSIGNED-PAYLOAD", "20240102T030405Z", "tok", "us-east-1", "s3",
                     "AKIAIOSFODNN7EXAMPLE", [("Host", "s3.amazonaws.com")]))


# -------------------------------------------------------- storage_path

def storage_path_seeds():
    def seed(flags, when, *fields):
        return bytes([flags]) + struct.pack("<q", when) + b"\0".join(
            f if isinstance(f, bytes) else f.encode() for f in fields)
    t = 1704164645 + 62167219200  # mapped back to 2024-01-02
    write("storage_path", "plain.bin", seed(0, t, "report.pdf"))
    write("storage_path", "user_umlaut.bin", seed(1, t, "Reisepass Müller.PDF"))
    write("storage_path", "traversal.bin", seed(1, t, "../../etc/passwd"))
    write("storage_path", "dots.bin", seed(0, t, "...hidden..tar.GZ"))
    write("storage_path", "bidi.bin", seed(0, t, "invoice\u202efdp.exe"))
    write("storage_path", "long.bin", seed(0, t, "é" * 100 + ".jpeg"))
    write("storage_path", "long_ext.bin", seed(0, t, "a" * 130 + ".abcdefghijklmnopq"))
    write("storage_path", "invalid_utf8.bin", seed(0, t, b"a\xff\xc0\xafb.txt"))
    write("storage_path", "empty.bin", seed(0, t, ""))
    write("storage_path", "ids.bin", seed(3, t, "file_ID-9", "user/1", "x.png"))
    write("storage_path", "raw_when.bin", seed(4, -62167219201, "x"))
    write("storage_path", "year_9999.bin", seed(5, 253402300799, "y.pdf"))


# ---------------------------------------------------------- key_base64

def key_base64_seeds():
    for name, data in [
        ("key_path", "documents/user_1/2024/01/02/f-1_scan.pdf_pdf.json"),
        ("key_dotdot", "documents/../secret"),
        ("key_trailing_slash", "documents/"),
        ("key_backslash", "a\\b"),
        ("key_utf8", "dokumente/Müller/😀.json"),
        ("key_overlong", b"a/\xc0\xae\xc0\xae/b"),
        ("key_surrogate", b"a\xed\xa0\x80"),
        ("key_c1", b"a\xc2\x85b"),
        ("b64_padded1", "aGVsbG8="),
        ("b64_padded2", "aGk="),
        ("b64_bad_bits", "aGl="),
        ("b64_long", base64.b64encode(bytes(range(256))).decode()),
        ("b64_inner_pad", "aG==aGVs"),
    ]:
        write("key_base64", name, data)


def vector_seeds():
    """The conformance vectors sealed under the fuzz key (every JSON rule,
    version, text, header, base64, length, order and legacy case of
    docs/FORMAT.md) as envelope seeds named vec_<vector name>."""
    path = os.path.join(TOP, "tests", "vectors", "envelope_v1.json")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    for v in data["vectors"]:
        if v["keys"] != ["rsa2048_a"] or v["name"].startswith(("v1/ok/size",)):
            continue
        raw = (v["envelope"].encode("utf-8") if "envelope" in v
               else base64.b64decode(v["envelope_b64"]))
        write("envelope", "vec_" + v["name"].replace("/", "_"), raw)


def main():
    if sys.argv[1:] == ["--vectors"]:
        vector_seeds()
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    envelopes(sys.argv[1])
    vector_seeds()
    dotenvs()
    s3_replies()
    sigv4_seeds()
    storage_path_seeds()
    key_base64_seeds()


if __name__ == "__main__":
    main()

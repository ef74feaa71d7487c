#!/usr/bin/python3
"""A tiny S3 look-alike that misbehaves on purpose, for the S3 provider's
fault tests (tests/integration/test_s3_faults.c).  Debian's /usr/bin/python3,
standard library only.

    s3_fault_server.py PORT_FILE

listens on 127.0.0.1 on a free port, writes the port to PORT_FILE and serves
until killed.  Path-style requests /<bucket>/<key>; objects are kept in
memory.  It checks what the client sends with a body (an Authorization
header; x-amz-content-sha256, Content-MD5 and x-amz-checksum-* when sent
must match the body, and a checksum is echoed in the reply, as AWS does),
but it does not verify signatures (the Swift tests do that).

What goes wrong is chosen by the key's first segment (or a segment
"user_<fault>", for keys the service lays out):
  slowdown-N/...  the first N requests for the key answer 503 SlowDown
  drop-N/...      the first N requests are read and the connection closed
                  without a reply
  dropmid/...     the first GET sends the headers and half the body, then
                  closes; later GETs honour Range and If-Match
  stall/...       GET sends the headers and 1 KiB of a 1 MiB body, then
                  sends nothing more for 120 s
  slowreply/...   every request waits 10 s before any reply
  denied/...      403 AccessDenied, always
  partfail/...    UploadPart number 2 answers 500 InternalError, always
  inflightfail/... UploadPart number 2 waits (up to 5 s) until another part
                  of the key is in flight, then answers 500 InternalError;
                  the other parts take 0.5 s each
  mperr-N/...     CompleteMultipartUpload answers 200 OK with an
                  <Error>InternalError</Error> body the first N times
                  (N = 99: always)
  endless/...     GET answers 200 with a chunked body that never ends
  hugelen/...     GET answers 200 with Content-Length 10 TiB (then sends
                  without end)
  bigerror/...    every request answers 400 with an <Error> body that never
                  ends (chunked)
  bitflip/...     GET sends the object with one bit flipped (ETag and
                  Content-Length of the real one)
  truncate/...    GET sends the object less its last 100 bytes, with a
                  Content-Length to match (ETag of the real one)
  empty/...       GET sends an empty body (ETag of the real object)
  splice/...      like dropmid, but the resumed GET ignores If-Match and
                  sends the range of another object (the bytes reversed)
                  under the real ETag; splicetag/... the same under the
                  other object's ETag
  sum-ALGO/...    GET adds x-amz-checksum-ALGO (crc32, crc32c, sha1,
                  sha256) of the body; badsum-ALGO/... a wrong one
  kms/...         GET answers as SSE-KMS does: an ETag that is not the MD5
  cutwin/...      the first ranged GET that starts past byte 0 sends its
                  206 headers and half the range, then closes; later GETs
                  honour Range and If-Match
  rangeflip/...   GETs (ranged or not) serve the object with one bit
                  flipped in its middle, under the real ETag
  slowwin/...     ranged GETs that start past byte 0 send their 206
                  headers, then 1 KiB every 100 ms
anything else behaves.

ListObjectsV2 (GET /<bucket>?list-type=2) lists the stored keys under the
prefix, except when the prefix names a fault:
  looptoken/      a page of one key, truncated, with the same token always
  emptypage/      empty truncated pages with a new token each time
  cycle/          tokens A, B, A, B...: pages [cycle/1], [cycle/2], ...
  biglist/        a 200 reply whose chunked body never ends
  hugelist/       a 200 reply announcing Content-Length 1 GiB

GET /__stats answers JSON: {"requests": {"METHOD key": count}, "aborts":
{key: count}, "completes": {key: count}, "ranges": [[key, range, if_match],
...], "open_uploads": {key: uploads neither completed nor aborted},
"stored_parts": {key: parts held by those uploads}, "late_parts": {key:
UploadParts for an unknown (e.g. aborted) upload}, "in_flight_at_failure":
{key: other parts of the key in flight when inflightfail's part 2 failed}}.
"""

import base64
import hashlib
import json
import socket
import sys
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
OBJECTS = {}        # key -> bytes
UPLOADS = {}        # upload id -> (key, {part number: bytes})
REQUESTS = {}       # "METHOD key" -> count
ABORTS = {}
COMPLETES = {}
RANGES = []
IN_FLIGHT = {}      # key -> UploadParts being served (inflightfail)
FAILED_WITH = {}    # key -> IN_FLIGHT of the others when part 2 failed
LATE_PARTS = {}
NEXT_UPLOAD = [0]
CUT_WINDOWS = set()  # cutwin keys whose window was cut already


def error_xml(code, message):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
            '<Message>%s</Message><RequestId>fault-%d</RequestId></Error>'
            % (code, message, int(time.time() * 1000))).encode()


FAULTS = ('slowdown-', 'drop-', 'dropmid', 'stall', 'slowreply', 'denied',
          'mperr-', 'partfail', 'inflightfail', 'endless', 'hugelen',
          'bigerror', 'bitflip', 'truncate', 'emptypage', 'empty', 'splice',
          'sum-', 'badsum-', 'kms', 'looptoken', 'cycle', 'biglist',
          'hugelist', 'cutwin', 'rangeflip', 'slowwin')

# CRC-32C (Castagnoli), reflected; the standard library has only CRC-32.
CRC32C_TABLE = []
for _i in range(256):
    _c = _i
    for _k in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    CRC32C_TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = CRC32C_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def checksum(algo, data):
    """base64 of a full-object x-amz-checksum-ALGO value."""
    if algo == 'crc32':
        raw = zlib.crc32(data).to_bytes(4, 'big')
    elif algo == 'crc32c':
        raw = crc32c(data).to_bytes(4, 'big')
    else:
        raw = hashlib.new(algo, data).digest()
    return base64.b64encode(raw).decode()


def fault_of(key):
    """The fault a key asks for: its first path segment (or a segment
    "user_<fault>", as the service's documents/user_<id>/ layout makes)
    that names one; '' for none."""
    for seg in key.split('/'):
        if seg.startswith('user_'):
            seg = seg[5:]
        if seg.startswith(FAULTS):
            return seg
    return ''


def count_of(prefix):
    """N of a key's 'name-N/' first segment, else 0."""
    try:
        return int(prefix.rsplit('-', 1)[1])
    except (IndexError, ValueError):
        return 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):  # quiet
        pass

    # ------------------------------------------------------------ helpers
    def reply(self, status, body=b'', headers=None, content_type=None):
        self.send_response(status)
        if content_type:
            self.send_header('Content-Type', content_type)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if 200 <= status < 300:
            for k, v in getattr(self, 'echo', {}).items():
                self.send_header(k, v)
        self.echo = {}
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD' and body:
            self.wfile.write(body)

    def fail(self, status, code, message):
        self.reply(status, error_xml(code, message),
                   content_type='application/xml')

    def read_body(self):
        n = int(self.headers.get('Content-Length') or 0)
        data = b''
        while len(data) < n:
            chunk = self.rfile.read(n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def endless(self, status, head=b'', length=None, content_type=None):
        """Headers, `head`, then 'x' without end (chunked unless `length`
        is given), until the client goes away."""
        self.send_response(status)
        if content_type:
            self.send_header('Content-Type', content_type)
        if length is None:
            self.send_header('Transfer-Encoding', 'chunked')
        else:
            self.send_header('Content-Length', str(length))
        self.end_headers()
        block = b'x' * 65536
        try:
            for piece in [head] + [block] * (1 << 18):  # 16 GiB at most
                if not piece:
                    continue
                if length is None:
                    self.wfile.write(b'%x\r\n' % len(piece) + piece + b'\r\n')
                else:
                    self.wfile.write(piece)
        except OSError:
            pass
        self.drop()

    def partial(self, part, start, end, size, etag, slow):
        """A 206 reply for `part` that stops half-way (the connection
        closed), or that trickles (`slow`: 1 KiB every 100 ms)."""
        self.send_response(206)
        self.send_header('ETag', etag)
        self.send_header('Content-Range', 'bytes %d-%d/%d' % (start, end, size))
        self.send_header('Content-Length', str(len(part)))
        self.end_headers()
        try:
            if slow:
                for i in range(0, len(part), 1024):
                    self.wfile.write(part[i:i + 1024])
                    self.wfile.flush()
                    time.sleep(0.1)
            else:
                self.wfile.write(part[:len(part) // 2])
                self.wfile.flush()
        except OSError:
            pass
        self.drop()

    def list_objects(self, query):
        prefix = query.get('prefix', [''])[0]
        token = query.get('continuation-token', [''])[0]
        first = fault_of(prefix)
        if first == 'biglist':
            self.endless(200, b'<?xml version="1.0"?><ListBucketResult>'
                         b'<Name>', content_type='application/xml')
            return
        if first == 'hugelist':
            self.endless(200, length=1 << 30, content_type='application/xml')
            return
        keys, nxt = [], ''
        if first == 'looptoken':
            keys, nxt = ['looptoken/a'], 'same'
        elif first == 'emptypage':
            nxt = 't%d' % (int(token[1:] or 0) + 1)
        elif first == 'cycle':
            keys = ['cycle/1'] if token in ('', 'B') else ['cycle/2']
            nxt = 'A' if token in ('', 'B') else 'B'
        else:
            with LOCK:
                keys = sorted(k for k in OBJECTS if k.startswith(prefix))
        xml = ['<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult>'
               '<Name>fault</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount>'
               '<IsTruncated>%s</IsTruncated>'
               % (prefix, len(keys), 'true' if nxt else 'false')]
        if nxt:
            xml.append('<NextContinuationToken>%s</NextContinuationToken>'
                       % nxt)
        for k in keys:
            xml.append('<Contents><Key>%s</Key><Size>1</Size>'
                       '<LastModified>2026-01-01T00:00:00.000Z</LastModified>'
                       '<ETag>"x"</ETag></Contents>' % k)
        xml.append('</ListBucketResult>')
        self.reply(200, ''.join(xml).encode(), content_type='application/xml')

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def parse(self):
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.split('/', 2)
        bucket = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ''
        key = urllib.parse.unquote(parts[2]) if len(parts) > 2 else ''
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        return bucket, key, query

    def count(self, key):
        with LOCK:
            name = '%s %s' % (self.command, key)
            REQUESTS[name] = REQUESTS.get(name, 0) + 1
            return REQUESTS[name]

    def check_body(self, body):
        """The integrity headers every body must carry."""
        if 'Authorization' not in self.headers:
            self.fail(403, 'AccessDenied', 'no Authorization header')
            return False
        sha = self.headers.get('x-amz-content-sha256', '')
        if sha != 'UNSIGNED-PAYLOAD' and sha != hashlib.sha256(body).hexdigest():
            self.fail(400, 'XAmzContentSHA256Mismatch', 'payload hash')
            return False
        md5 = self.headers.get('Content-MD5')
        if md5 is not None and \
                md5 != base64.b64encode(hashlib.md5(body).digest()).decode():
            self.fail(400, 'BadDigest', 'Content-MD5')
            return False
        # Flexible checksums are checked and echoed in the reply, as AWS
        # does.
        self.echo = {}
        for algo in ('crc32', 'crc32c', 'sha1', 'sha256'):
            name = 'x-amz-checksum-' + algo
            sent = self.headers.get(name)
            if sent is None:
                continue
            if sent != checksum(algo, body):
                self.fail(400, 'BadDigest', name)
                return False
            self.echo[name] = sent
        return True

    def part_in_flight(self, key, num):
        """inflightfail: part 2 waits for another part of the key to be in
        flight and returns True (to fail); the others take 0.5 s."""
        with LOCK:
            IN_FLIGHT[key] = IN_FLIGHT.get(key, 0) + 1
        try:
            if num != 2:
                time.sleep(0.5)
                return False
            deadline = time.time() + 5
            while True:
                with LOCK:
                    others = IN_FLIGHT[key] - 1
                if others >= 1 or time.time() > deadline:
                    break
                time.sleep(0.01)
            with LOCK:
                FAILED_WITH[key] = others
            return True
        finally:
            with LOCK:
                IN_FLIGHT[key] -= 1

    # ----------------------------------------------------------- methods
    def handle_any(self):
        if self.path == '/__stats':
            with LOCK:
                open_uploads, stored = {}, {}
                for k, parts in UPLOADS.values():
                    open_uploads[k] = open_uploads.get(k, 0) + 1
                    stored[k] = stored.get(k, 0) + len(parts)
                body = json.dumps({'requests': REQUESTS, 'aborts': ABORTS,
                                   'completes': COMPLETES,
                                   'ranges': RANGES,
                                   'open_uploads': open_uploads,
                                   'stored_parts': stored,
                                   'late_parts': LATE_PARTS,
                                   'in_flight_at_failure': FAILED_WITH}
                                  ).encode()
            self.reply(200, body, content_type='application/json')
            return
        bucket, key, query = self.parse()
        body = self.read_body() if self.command in ('PUT', 'POST') else b''
        n = self.count(key)
        first = fault_of(key)

        if first.startswith('slowdown-') and n <= count_of(first):
            self.fail(503, 'SlowDown', 'Please reduce your request rate.')
            return
        if first.startswith('drop-') and n <= count_of(first):
            self.drop()
            return
        if first == 'denied':
            self.fail(403, 'AccessDenied', 'Access Denied')
            return
        if first == 'slowreply':
            time.sleep(10)
        if first == 'bigerror':
            self.endless(400, b'<?xml version="1.0" encoding="UTF-8"?>\n'
                         b'<Error><Code>InvalidRequest</Code><Message>',
                         content_type='application/xml')
            return
        if self.command == 'GET' and key == '' and 'list-type' in query:
            self.list_objects(query)
            return

        if self.command in ('PUT', 'POST') and not self.check_body(body):
            return

        if self.command == 'POST' and 'uploads' in query:
            with LOCK:
                NEXT_UPLOAD[0] += 1
                uid = 'up+%d/x=' % NEXT_UPLOAD[0]
                UPLOADS[uid] = (key, {})
            xml = ('<InitiateMultipartUploadResult><Bucket>%s</Bucket>'
                   '<Key>%s</Key><UploadId>%s</UploadId>'
                   '</InitiateMultipartUploadResult>' % (bucket, key, uid))
            self.reply(200, xml.encode(), content_type='application/xml')
            return
        if 'uploadId' in query:
            uid = query['uploadId'][0]
            with LOCK:
                up = UPLOADS.get(uid)
            if up is None or up[0] != key:
                if self.command == 'PUT':
                    with LOCK:
                        LATE_PARTS[key] = LATE_PARTS.get(key, 0) + 1
                self.fail(404, 'NoSuchUpload', 'no such upload')
                return
            if self.command == 'PUT':
                num = int(query['partNumber'][0])
                if first == 'partfail' and num == 2:
                    self.fail(500, 'InternalError', 'part 2 always fails')
                    return
                if first == 'inflightfail' and self.part_in_flight(key, num):
                    self.fail(500, 'InternalError', 'part 2 fails')
                    return
                up[1][num] = body
                etag = '"%s"' % hashlib.md5(body).hexdigest()
                self.reply(200, headers={'ETag': etag})
                return
            if self.command == 'DELETE':
                with LOCK:
                    ABORTS[key] = ABORTS.get(key, 0) + 1
                    UPLOADS.pop(uid, None)
                self.reply(204)
                return
            if self.command == 'POST':
                with LOCK:
                    COMPLETES[key] = COMPLETES.get(key, 0) + 1
                    c = COMPLETES[key]
                if first.startswith('mperr-') and c <= count_of(first):
                    # The error comes inside a 200 OK, after a while.
                    self.reply(200, error_xml(
                        'InternalError', 'We encountered an internal error.'),
                        content_type='application/xml')
                    return
                data = b''.join(up[1][i] for i in sorted(up[1]))
                with LOCK:
                    OBJECTS[key] = data
                    UPLOADS.pop(uid, None)
                xml = ('<CompleteMultipartUploadResult><Key>%s</Key>'
                       '<ETag>"x-%d"</ETag></CompleteMultipartUploadResult>'
                       % (key, len(up[1])))
                self.reply(200, xml.encode(), content_type='application/xml')
                return

        if self.command == 'PUT':
            with LOCK:
                OBJECTS[key] = body
            self.reply(200, headers={
                'ETag': '"%s"' % hashlib.md5(body).hexdigest()})
            return
        if self.command == 'DELETE':
            with LOCK:
                OBJECTS.pop(key, None)
            self.reply(204)
            return
        if self.command in ('GET', 'HEAD'):
            if self.command == 'GET' and first == 'endless':
                self.endless(200)
                return
            if self.command == 'GET' and first == 'hugelen':
                self.endless(200, length=10 << 40)
                return
            if first == 'stall' and self.command == 'GET':
                self.send_response(200)
                self.send_header('Content-Length', str(1024 * 1024))
                self.end_headers()
                self.wfile.write(b'x' * 1024)
                self.wfile.flush()
                time.sleep(120)
                self.drop()
                return
            with LOCK:
                data = OBJECTS.get(key)
            if data is None:
                self.fail(404, 'NoSuchKey', 'The specified key does not exist.')
                return
            etag = '"%s"' % hashlib.md5(data).hexdigest()
            if self.command == 'GET' and first in ('bitflip', 'truncate',
                                                   'kms', 'empty'):
                bad, extra = data, {'ETag': etag}
                if first == 'bitflip':
                    bad = bytearray(data)
                    bad[len(bad) // 2] ^= 0x10
                    bad = bytes(bad)
                elif first == 'truncate':
                    bad = data[:-100]
                elif first == 'empty':
                    bad = b''
                else:
                    extra = {'ETag': '"%s"' % hashlib.md5(b'kms' + data)
                             .hexdigest(),
                             'x-amz-server-side-encryption': 'aws:kms'}
                self.reply(200, bad, headers=extra)
                return
            if self.command == 'GET' and first.startswith(('sum-', 'badsum-')):
                algo = first.split('-', 1)[1]
                value = checksum(algo, data if first.startswith('sum-')
                                 else data + b'!')
                self.reply(200, data, headers={
                    'ETag': etag, 'x-amz-checksum-' + algo: value})
                return
            if first.startswith('splice') and self.command == 'GET' and n > 1:
                other = data[::-1]
                if first == 'splicetag':
                    etag = '"%s"' % hashlib.md5(other).hexdigest()
                data = other
            if (first == 'dropmid' or first.startswith('splice')) and \
                    self.command == 'GET' and n == 1:
                self.send_response(200)
                self.send_header('Content-Length', str(len(data)))
                self.send_header('ETag', etag)
                self.end_headers()
                self.wfile.write(data[:len(data) // 2])
                self.wfile.flush()
                self.drop()
                return
            rng = self.headers.get('Range')
            im = self.headers.get('If-Match')
            if rng or im:
                with LOCK:
                    RANGES.append([key, rng, im])
            if im and im != etag and not first.startswith('splice'):
                self.fail(412, 'PreconditionFailed', 'If-Match')
                return
            if first == 'rangeflip' and data:
                flipped = bytearray(data)
                flipped[len(data) // 2] ^= 0x10
                data = bytes(flipped)
            if rng and rng.startswith('bytes='):
                a, _, b = rng[6:].partition('-')
                start = int(a)
                end = int(b) if b else len(data) - 1
                end = min(end, len(data) - 1)
                part = data[start:end + 1]
                if start > 0 and first in ('cutwin', 'slowwin'):
                    with LOCK:
                        cut = first == 'cutwin' and key not in CUT_WINDOWS
                        CUT_WINDOWS.add(key)
                    if cut or first == 'slowwin':
                        self.partial(part, start, end, len(data), etag,
                                     first == 'slowwin')
                        return
                self.reply(206, part, headers={
                    'ETag': etag, 'Content-Range':
                    'bytes %d-%d/%d' % (start, end, len(data))})
                return
            self.reply(200, data, headers={'ETag': etag})
            return
        self.fail(405, 'MethodNotAllowed', self.command)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # resets by the client are part of the game


def main():
    server = Server(('127.0.0.1', 0), Handler)
    tmp = sys.argv[1] + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d\n' % server.server_address[1])
    import os
    os.rename(tmp, sys.argv[1])
    server.serve_forever()


if __name__ == '__main__':
    main()

#!/usr/bin/python3
"""A tiny S3 look-alike that misbehaves on purpose, for the S3 provider's
fault tests (tests/integration/test_s3_faults.c).  Debian's /usr/bin/python3,
standard library only.

    s3_fault_server.py PORT_FILE

listens on 127.0.0.1 on a free port, writes the port to PORT_FILE and serves
until killed.  Path-style requests /<bucket>/<key>; objects are kept in
memory.  It checks what the client must send on every body (Content-MD5 and
x-amz-content-sha256 that match the body, an Authorization header), but it
does not verify signatures (the Swift tests do that).

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
anything else behaves.

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


def error_xml(code, message):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
            '<Message>%s</Message><RequestId>fault-%d</RequestId></Error>'
            % (code, message, int(time.time() * 1000))).encode()


FAULTS = ('slowdown-', 'drop-', 'dropmid', 'stall', 'slowreply', 'denied',
          'mperr-', 'partfail', 'inflightfail')


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
        if sha != hashlib.sha256(body).hexdigest():
            self.fail(400, 'XAmzContentSHA256Mismatch', 'payload hash')
            return False
        md5 = self.headers.get('Content-MD5', '')
        if md5 != base64.b64encode(hashlib.md5(body).digest()).decode():
            self.fail(400, 'BadDigest', 'Content-MD5')
            return False
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
            if first == 'dropmid' and self.command == 'GET' and n == 1:
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
            if im and im != etag:
                self.fail(412, 'PreconditionFailed', 'If-Match')
                return
            if rng and rng.startswith('bytes='):
                a, _, b = rng[6:].partition('-')
                start = int(a)
                end = int(b) if b else len(data) - 1
                end = min(end, len(data) - 1)
                part = data[start:end + 1]
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

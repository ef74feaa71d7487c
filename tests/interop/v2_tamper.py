"""Tampered versions of a version 2 envelope, each with the error that
docs/FORMAT.md (sections 19, 21, 24 and 25) says a reader must give.
Shared by test_interop_v2.py (on envelopes the library and Python wrote)
and tests/vectors/gen_vectors_v2.py (the conformance vectors).

Every function takes a docstore_v2.Sealed (parts_of() rebuilds one from
any envelope and a private key that opens it) and yields
(name, envelope bytes, expected error name, expected identity or None).
"""
import struct

import docstore_v2 as V

FMT = "DOCSTORE_EFORMAT"
UNS = "DOCSTORE_EUNSUPPORTED"
KEY = "DOCSTORE_EKEY"
INT = "DOCSTORE_EINTEGRITY"


def parts_of(envelope, private_keys):
    """The parts of an envelope written by anyone, with its data key."""
    hd = V.parse_header(envelope)
    k_seg, dk, _ = V.unlock(hd, private_keys)
    seg = hd.segment_size + V.TAG
    n, _ = V.body_layout(len(envelope) - hd.length, hd.segment_size)
    body = envelope[hd.length:]
    segments = [body[i * seg:(i + 1) * seg] for i in range(n)]
    plain = b"".join(V.decrypt_segment(hd, k_seg, i, i == n - 1, s)
                     for i, s in enumerate(segments))
    return V.Sealed(hd.raw, segments, dk, hd.salt, hd.prefix, k_seg, plain)


def _flip(raw, at, bit=0x01):
    b = bytearray(raw)
    b[at] ^= bit
    return bytes(b)


def _rebuild(s, **change):
    """The header rebuilt from s's fields with changes, validly tagged."""
    hd = V.parse_header(s.header)
    args = dict(recipients=hd.recipients, dk=s.dk, salt=s.salt, prefix=s.prefix,
                file_id=hd.file_id, user_id=hd.user_id, exponent=hd.exponent,
                flags=hd.flags)
    args.update(change)
    return V.build_header(**args)


def header_fields(s):
    """Named header changes (sections 17 and 21, steps 2 to 7)."""
    h = s.header
    body = b"".join(s.segments)
    hd = V.parse_header(h)
    yield "header/magic-byte-0", _flip(h, 0) + body, FMT, None
    yield "header/magic-byte-7", _flip(h, 7) + body, FMT, None
    yield "header/version-3", h[:8] + b"\x03" + h[9:] + body, UNS, None
    yield "header/version-1", h[:8] + b"\x01" + h[9:] + body, UNS, None
    yield "header/suite-2", h[:9] + b"\x02" + h[10:] + body, UNS, None
    yield "header/flag-bit-1", _flip(h, 11, 0x02) + body, UNS, None
    yield "header/flag-bit-15", _flip(h, 10, 0x80) + body, UNS, None
    yield "header/flag-zstd-flipped", _flip(h, 11, 0x01) + body, INT, None
    for name, value in (("126", 126), ("262145", 262145), ("zero", 0),
                        ("max", 0xFFFFFFFF)):
        yield ("header/h-%s" % name,
               h[:12] + struct.pack(">I", value) + h[16:] + body, FMT, None)
    yield ("header/h-plus-one",
           h[:12] + struct.pack(">I", hd.length + 1) + h[16:] + body, FMT, None)
    yield ("header/h-minus-one",
           h[:12] + struct.pack(">I", hd.length - 1) + h[16:] + body, FMT, None)
    for e in (11, 25, 0, 255):
        yield ("header/exponent-%d" % e, h[:16] + bytes([e]) + h[17:] + body,
               FMT, None)
    other_e = 13 if hd.exponent != 13 else 14
    yield ("header/exponent-changed", h[:16] + bytes([other_e]) + h[17:] + body,
           INT, None)
    yield "header/salt-flipped", _flip(h, 17) + body, INT, None
    yield "header/nonce-prefix-flipped", _flip(h, 49) + body, INT, None
    yield "header/commitment-flipped", _flip(h, hd.length - 64) + body, INT, None
    yield "header/tag-flipped", _flip(h, hd.length - 1) + body, INT, None
    yield "header/cut-to-15-bytes", h[:15], FMT, None
    yield "header/cut-to-8-bytes", h[:8], FMT, None
    yield "header/cut-to-h-minus-1", h[:-1], FMT, None
    # Re-tagged headers: valid HMAC, other content.
    yield ("header/wrong-commitment-retagged",
           _rebuild(s, commitment=bytes(32)) + body, INT, None)
    yield ("header/salt-changed-retagged",
           _rebuild(s, salt=bytes(32)) + body, INT, None)
    yield ("header/prefix-changed-retagged",
           _rebuild(s, prefix=bytes(7)) + body, INT, None)
    if len(s.segments) >= 2:      # (one short segment would still open)
        yield ("header/exponent-changed-retagged",
               _rebuild(s, exponent=other_e) + body, INT, None)
    if not hd.compressed:         # (clearing it would open to the frame)
        yield ("header/flag-zstd-set-retagged",
               _rebuild(s, flags=hd.flags | V.FLAG_ZSTD) + body, INT, None)


def identity(s):
    """Step 8 and the identity syntax of step 3."""
    env = s.header + b"".join(s.segments)
    hd = V.parse_header(s.header)
    if hd.file_id is not None:
        yield "identity/other-file", env, INT, (hd.file_id + "x", hd.user_id)
        yield ("identity/other-user", env, INT,
               (hd.file_id, (hd.user_id or "") + "x"))
        if hd.user_id is not None:
            yield "identity/user-expected-none", env, INT, (hd.file_id, None)
        at = 57                                        # first file id byte
        bad = s.header[:at] + b"." + s.header[at + 1:]
        yield "identity/file-id-bad-char", bad + env[hd.length:], FMT, None
        other = b"y" if s.header[at:at + 1] == b"x" else b"x"
        yield ("identity/file-id-changed", s.header[:at] + other +
               s.header[at + 1:] + env[hd.length:], INT, None)
    else:
        yield "identity/unbound-but-expected", env, INT, ("1", None)


def segments(s):
    """Step 9: the segment stream (section 19)."""
    h, segs = s.header, s.segments
    hd = V.parse_header(h)
    body = b"".join(segs)
    yield "segments/body-empty", h, INT, None
    yield "segments/body-15-bytes", h + body[:15], INT, None
    yield "segments/last-byte-cut", h + body[:-1], INT, None
    yield "segments/trailing-1-byte", h + body + b"\0", INT, None
    yield "segments/trailing-16-bytes", h + body + bytes(16), INT, None
    yield "segments/trailing-copy-of-last", h + body + segs[-1], INT, None
    yield "segments/first-byte-flipped", h + _flip(body, 0), INT, None
    yield "segments/tag-flipped", h + _flip(body, len(body) - 1), INT, None
    # The last segment encrypted as not last, and a full stream whose final
    # segment is an empty one (written only for an empty stream).
    chunks = V.split_stream(s.stream, hd.segment_size)
    notlast = V.encrypt_segments(s.k_seg, s.prefix, chunks, last_index=-1)
    yield "segments/no-last-flag", h + b"".join(notlast), INT, None
    if len(segs) >= 2:
        yield "segments/reordered", h + segs[1] + segs[0] + b"".join(segs[2:]), INT, None
        yield ("segments/first-duplicated", h + segs[0] + b"".join(segs), INT,
               None)
        yield "segments/last-dropped", h + b"".join(segs[:-1]), INT, None
        yield "segments/first-dropped", h + b"".join(segs[1:]), INT, None
        yield ("segments/last-flag-on-first", h + b"".join(V.encrypt_segments(
            s.k_seg, s.prefix, chunks, last_index=0)), INT, None)
    if len(chunks[-1]) == hd.segment_size:
        empty = V.encrypt_segments(s.k_seg, s.prefix, chunks + [b""])
        yield "segments/empty-last-after-full", h + b"".join(empty), INT, None


def with_stream(s, stream):
    """The envelope of s with another (validly encrypted) stream."""
    hd = V.parse_header(s.header)
    return s.header + b"".join(V.encrypt_segments(
        s.k_seg, s.prefix, V.split_stream(stream, hd.segment_size)))


def compression(s, document):
    """Step 10 (section 24), for a compressed envelope of `document`."""
    f = s.stream
    yield "zstd/data-after-frame", with_stream(s, f + b"\0"), INT, None
    yield "zstd/two-frames", with_stream(s, f + f), INT, None
    yield "zstd/frame-cut", with_stream(s, f[:-1]), INT, None
    yield "zstd/empty-stream", with_stream(s, b""), INT, None
    yield "zstd/not-a-frame", with_stream(s, b"\0" * 16 + document), INT, None
    skippable = bytes.fromhex("502a4d18") + (4).to_bytes(4, "little") + b"skip"
    yield "zstd/skippable-frame-first", with_stream(s, skippable + f), INT, None
    yield "zstd/skippable-frame-only", with_stream(s, skippable), INT, None
    yield "zstd/3-bytes", with_stream(s, f[:3]), INT, None
    yield ("zstd/window-2-28", with_stream(s, V.compress(document, 3, 28)),
           INT, None)


def all_cases(s, document=None):
    for gen in (header_fields, identity, segments):
        yield from gen(s)
    if V.parse_header(s.header).compressed:
        yield from compression(s, document)

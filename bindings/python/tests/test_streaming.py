# Streaming documents: DocumentReader (io.RawIOBase over docstore_reader),
# DocumentWriter (docstore_writer), store_stream and retrieve_to, progress,
# cancel, ranges, tampering.
# SPDX-License-Identifier: Apache-2.0
import asyncio
import hashlib
import io
import json
import os
import shutil
import threading

import pytest

import docstore

MIB = 1 << 20


def pattern(size, seed=0):
    """`size` bytes that differ from segment to segment."""
    block = hashlib.sha256(b"%d" % seed).digest() * 2048  # 64 KiB
    out = bytearray()
    i = 0
    while len(out) < size:
        out += hashlib.sha256(b"%d/%d" % (seed, i)).digest() + block
        i += 1
    return bytes(out[:size])


def files_under(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, fs in os.walk(root) for f in fs)


def store_root(tmp_path):
    return str(tmp_path / "store")


def object_file(tmp_path, path):
    return os.path.join(store_root(tmp_path), path)


def layout(data):
    """(header length, segment size) of a v2 envelope (docs/FORMAT.md)."""
    assert data[:8] == b"\x89DSE\r\n\x1a\n"
    return int.from_bytes(data[12:16], "big"), 1 << data[16]


def put(svc, data, file_id="1", user_id="7", **options):
    with svc.open_writer(file_id, "scan.pdf", user_id, **options) as w:
        assert w.writable()
        w.write(data)
    return w.path


# ---------------------------------------------------------------- round trip

@pytest.mark.parametrize("size", [0, 1, 5 * MIB])
def test_round_trip_through_copyfileobj(local_service, tmp_path, size):
    data = pattern(size, size)
    with local_service.open_writer("1", "scan.pdf", "7") as w:
        shutil.copyfileobj(io.BytesIO(data), w)
    assert w.path.startswith("documents/user_7/")
    assert w.closed
    with pytest.raises(ValueError):
        w.write(b"x")  # committed: closed
    stored = os.path.getsize(object_file(tmp_path, w.path))
    assert stored > size
    if size:  # v2 overhead: 16 bytes a segment plus the header
        assert stored - size < 0.01 * size + 4096

    with local_service.open_reader(w.path, expect=("1", "7")) as r:
        assert r.readable() and not r.seekable()
        assert r.size == size
        out = io.BytesIO()
        shutil.copyfileobj(r, out)
        assert r.tell() == size
        assert r.read(10) == b""  # the end stays the end
        assert r.stats()["plaintext_bytes"] == size
        assert r.stats()["stored_bytes"] == stored
    assert out.getvalue() == data
    assert r.closed
    with pytest.raises(ValueError):
        r.read(1)
    # The whole-buffer call reads what the stream wrote, and back.
    assert local_service.read_document_sync(w.path, "1", "7") == data
    p2 = local_service.store_document_sync("2", "b.pdf", data, "7")
    with local_service.open_reader(p2, expect=("2", "7")) as r:
        assert r.readall() == data


def test_readinto_writes_in_place(local_service):
    data = pattern(200_000)
    path = put(local_service, data)
    buf = bytearray(300_000)
    view = memoryview(buf)
    with local_service.open_reader(path) as r:
        got = 0
        while True:
            n = r.readinto(view[got:got + 50_000])
            if not n:
                break
            got += n
    assert got == len(data) and bytes(buf[:got]) == data
    with local_service.open_reader(path) as r:
        with pytest.raises(docstore.InvalidArgumentError, match="read-only"):
            r.readinto(b"\0" * 10)
        assert r.readinto(bytearray()) == 0
        assert r.read(5) == data[:5]  # nothing was consumed by the above


def test_writer_takes_any_bytes_like(local_service):
    import array
    parts = [b"abc", bytearray(b"def"), memoryview(b"xxghixx")[2:5],
             array.array("B", b"jkl"), "mnö"]
    with local_service.open_writer("1", "a.txt", "7") as w:
        for p in parts:
            w.write(p)
    assert local_service.read_document_sync(w.path) == \
        b"abcdefghijkl" + "mnö".encode()
    with local_service.open_writer("1", "a.txt", "7") as w:
        with pytest.raises(docstore.InvalidArgumentError,
                           match="bytes-like"):
            w.write(12)
        w.abort()


# ---------------------------------------------------------------- ranges

def test_ranges(local_service, tmp_path):
    data = pattern(300_000, 3)
    path = put(local_service, data)
    _, seg = layout(open(object_file(tmp_path, path), "rb").read(64))
    cases = [(0, 1), (1, 10), (seg - 1, 2), (seg, seg), (seg + 5, 2 * seg),
             (len(data) - 1, None), (1000, None), (0, None),
             (len(data) - 10, 100), (123, 0)]
    for offset, length in cases:
        with local_service.open_reader(path, offset=offset,
                                       length=length) as r:
            got = r.read()
        end = len(data) if length is None else offset + length
        assert got == data[offset:end], (offset, length)
    # A range reads only its own segments.
    with local_service.open_reader(path, offset=2 * seg, length=10) as r:
        assert r.read() == data[2 * seg:2 * seg + 10]
        assert r.stats()["stored_bytes"] <= 2 * (seg + 16) + 4096


def test_range_of_a_compressed_document_is_unsupported(local_service):
    data = b"compressible " * 50_000
    path = put(local_service, data, compression_level=3)
    with local_service.open_reader(path) as r:
        assert r.size is None  # unknown before the end
        assert r.read() == data
    with pytest.raises(docstore.UnsupportedError):
        with local_service.open_reader(path, offset=10) as r:
            r.read()


# ---------------------------------------------------------------- tampering

def test_tampered_object_raises_and_releases_nothing_of_the_bad_segment(
        local_service, tmp_path):
    data = pattern(5 * 65536 + 100, 5)
    path = put(local_service, data)
    file = object_file(tmp_path, path)
    blob = bytearray(open(file, "rb").read())
    header, seg = layout(blob)
    bad = 2  # the third segment
    blob[header + bad * (seg + 16) + 7] ^= 0x01
    with open(file, "wb") as f:
        f.write(blob)

    got = bytearray()
    buf = bytearray(4096)
    with local_service.open_reader(path, expect=("1", "7")) as r:
        with pytest.raises(docstore.IntegrityError) as info:
            while True:
                n = r.readinto(buf)
                assert n, "the end was reported for a tampered object"
                got += buf[:n]
        # The error stays: no more bytes after it.
        with pytest.raises(docstore.DocstoreError):
            r.readinto(buf)
    assert info.value.code == -8
    assert len(got) <= bad * seg
    assert bytes(got) == data[:len(got)]

    # retrieve_to a path: nothing at the destination, no temporary file.
    dest = tmp_path / "out" / "scan.pdf"
    dest.parent.mkdir()
    with pytest.raises(docstore.IntegrityError):
        local_service.retrieve_to_sync(path, dest)
    assert os.listdir(dest.parent) == []
    dest.write_bytes(b"previous")
    with pytest.raises(docstore.IntegrityError):
        local_service.retrieve_to_sync(path, str(dest))
    assert dest.read_bytes() == b"previous"
    assert os.listdir(dest.parent) == ["scan.pdf"]


def test_truncated_and_extended_objects(local_service, tmp_path):
    data = pattern(3 * 65536, 6)
    path = put(local_service, data)
    file = object_file(tmp_path, path)
    blob = open(file, "rb").read()
    header, seg = layout(blob)
    for bad in (blob[:header + 2 * (seg + 16)],   # last segment dropped
                blob + b"\0" * 20):               # bytes after the last
        with open(file, "wb") as f:
            f.write(bad)
        with pytest.raises(docstore.IntegrityError):
            with local_service.open_reader(path) as r:
                while r.read(65536):
                    pass


def test_identity_and_missing(local_service):
    path = put(local_service, b"mine", "1", "7")
    with pytest.raises(docstore.IntegrityError):
        with local_service.open_reader(path, expect=("1", "8")) as r:
            r.read()
    with pytest.raises(docstore.IntegrityError):
        with local_service.open_reader(path, expect="2") as r:
            r.read()
    with pytest.raises(docstore.NotFoundError):
        local_service.open_reader("documents/user_7/none.json")
    with local_service.open_reader(path, expect=("1", "7")) as r:
        assert r.read() == b"mine"


# ---------------------------------------------------------------- writer

def test_writer_aborts_on_exception_and_leaves_nothing(local_service,
                                                       tmp_path):
    before = files_under(store_root(tmp_path))
    with pytest.raises(RuntimeError, match="caller failed"):
        with local_service.open_writer("1", "scan.pdf", "7") as w:
            w.write(pattern(3 * MIB))
            raise RuntimeError("caller failed")
    assert w.closed and w.path is None
    assert files_under(store_root(tmp_path)) == before
    expected = docstore.storage_path("1", "scan.pdf", "7")
    assert not local_service.document_exists_sync(expected)

    # abort() by hand, and close() without commit, leave nothing either.
    w = local_service.open_writer("1", "scan.pdf", "7")
    w.write(b"x" * 100_000)
    w.abort()
    w.abort()  # again: nothing to do
    with pytest.raises(ValueError):
        w.commit()
    w = local_service.open_writer("1", "scan.pdf", "7")
    w.write(b"x" * 100_000)
    w.close()
    assert files_under(store_root(tmp_path)) == before


def test_no_clobber(local_service):
    path = put(local_service, b"first")
    with pytest.raises(docstore.AlreadyExistsError):
        put(local_service, b"second", no_clobber=True)
    assert local_service.read_document_sync(path) == b"first"
    assert put(local_service, b"third") == path  # overwriting is the default
    assert local_service.read_document_sync(path) == b"third"


# ---------------------------------------------------------------- progress

def test_progress_increases_and_ends_at_the_total(local_service):
    data = pattern(3 * MIB + 5, 9)
    seen = []
    with local_service.open_writer(
            "1", "scan.pdf", "7", size_hint=len(data),
            progress=lambda done, total: seen.append((done, total))) as w:
        for i in range(0, len(data), 100_000):
            w.write(data[i:i + 100_000])
    assert len(seen) > 2
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1] == (len(data), len(data))
    assert {t for _, t in seen} == {len(data)}

    got = []
    with local_service.open_reader(
            w.path, progress=lambda d, t: got.append((d, t))) as r:
        assert r.read() == data
    assert len(got) > 2
    assert [d for d, _ in got] == sorted(d for d, _ in got)
    done, total = got[-1]
    assert done == total and total >= len(data)

    # Total unknown without a size hint (until the end).
    seen.clear()
    put(local_service, data, progress=lambda d, t: seen.append((d, t)))
    assert len(seen) > 2 and seen[0][1] is None
    assert seen[-1][0] == len(data) and seen[-1][1] in (None, len(data))


def test_progress_returning_true_or_raising_cancels(local_service,
                                                     tmp_path):
    before = files_under(store_root(tmp_path))
    with pytest.raises(docstore.CanceledError):
        with local_service.open_writer(
                "1", "scan.pdf", "7",
                progress=lambda d, t: d >= MIB) as w:
            for _ in range(10):
                w.write(b"\0" * MIB)

    def boom(done, total):
        raise ZeroDivisionError("from the callback")
    with pytest.raises(ZeroDivisionError, match="from the callback") as info:
        local_service.store_stream_sync("1", "scan.pdf", [b"ab"] * 10, "7",
                                        progress=boom)
    assert isinstance(info.value.__cause__, docstore.CanceledError)
    assert files_under(store_root(tmp_path)) == before

    # The callback may poll stats(); closing from it is refused (the
    # handle is in use), which cancels.
    polled = []
    w = local_service.open_writer(
        "1", "scan.pdf", "7", progress=lambda d, t: polled.append(w.stats()))
    w.write(b"x" * (3 * MIB))
    w.abort()
    assert polled and polled[-1]["plaintext_bytes"] <= 3 * MIB
    w = local_service.open_writer("1", "scan.pdf", "7",
                                  progress=lambda d, t: w.close())
    with pytest.raises(RuntimeError, match="own progress callback"):
        w.write(b"x" * (3 * MIB))
    w.close()
    assert files_under(store_root(tmp_path)) == before


# ---------------------------------------------------------------- cancel

def test_cancel_from_another_thread_stops_a_writer(local_service, tmp_path):
    before = files_under(store_root(tmp_path))
    started = threading.Event()
    w = local_service.open_writer(
        "1", "scan.pdf", "7", progress=lambda d, t: started.set())
    canceller = threading.Thread(
        target=lambda: started.wait(30) and w.cancel())
    canceller.start()
    chunk = b"\0" * (256 * 1024)
    with pytest.raises(docstore.CanceledError):
        for _ in range(100_000):  # 25 GB: never reached
            w.write(chunk)
    canceller.join()
    with pytest.raises(Exception):
        w.commit()
    assert w.closed
    w.cancel()  # closed: ignored
    assert files_under(store_root(tmp_path)) == before


def test_cancel_from_another_thread_stops_a_reader(local_service):
    path = put(local_service, pattern(4 * MIB))
    r = local_service.open_reader(path)
    assert len(r.read(1000)) == 1000
    t = threading.Thread(target=r.cancel)
    t.start()
    t.join()
    with pytest.raises(docstore.CanceledError):
        while r.read(65536):
            pass
    r.close()
    r.cancel()  # closed: ignored


# ---------------------------------------------------------------- sources

class ReadOnly:
    """A file-like object with read() but no readinto()."""

    def __init__(self, data):
        self.f = io.BytesIO(data)

    def read(self, n):
        return self.f.read(n)


def test_store_stream_sources(local_service, tmp_path):
    data = pattern(2 * MIB + 3, 11)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    with open(src, "rb") as f:  # readinto
        p1 = local_service.store_stream_sync("1", "a.bin", f, "7")
    p2 = local_service.store_stream_sync("2", "a.bin", ReadOnly(data), "7")
    p3 = local_service.store_stream_sync(
        "3", "a.bin", (data[i:i + 70_000] for i in range(0, len(data),
                                                          70_000)), "7")
    p4 = local_service.store_stream_sync("4", "a.bin", data, "7")
    for i, p in enumerate((p1, p2, p3, p4)):
        assert local_service.read_document_sync(p, str(i + 1), "7") == data

    def failing():
        yield b"abc"
        raise OSError("source broke")
    before = files_under(store_root(tmp_path))
    with pytest.raises(OSError, match="source broke"):
        local_service.store_stream_sync("5", "a.bin", failing(), "7")
    assert files_under(store_root(tmp_path)) == before


def test_retrieve_to_path_and_file_object(local_service, tmp_path):
    data = pattern(MIB + 17, 12)
    path = put(local_service, data)
    dest = tmp_path / "out.bin"
    dest.write_bytes(b"old")
    assert local_service.retrieve_to_sync(path, dest, expect=("1", "7")) \
        == len(data)
    assert dest.read_bytes() == data
    assert oct(dest.stat().st_mode & 0o777) == "0o600"
    assert sorted(os.listdir(tmp_path)) == sorted(["legacy", "store",
                                                   "out.bin"])
    out = io.BytesIO()
    assert local_service.retrieve_to_sync(path, out, offset=5,
                                          length=10) == 10
    assert out.getvalue() == data[5:15]


@pytest.mark.asyncio
async def test_async_store_stream_from_an_async_generator(local_service,
                                                          tmp_path):
    data = pattern(3 * MIB + 1, 13)
    loop_thread = threading.get_ident()
    threads = set()

    async def produce():
        for i in range(0, len(data), 300_000):
            await asyncio.sleep(0)
            threads.add(threading.get_ident())
            yield data[i:i + 300_000]

    seen = []
    path = await local_service.store_stream(
        "1", "scan.pdf", produce(), "7",
        progress=lambda d, t: seen.append(threading.get_ident()))
    assert threads == {loop_thread}
    assert seen and loop_thread not in seen  # C calls ran in workers
    assert await local_service.read_document(path, "1", "7") == data
    dest = tmp_path / "back.bin"
    assert await local_service.retrieve_to(path, str(dest)) == len(data)
    assert dest.read_bytes() == data
    # Sync sources work through the awaitable too.
    p2 = await local_service.store_stream("2", "b.bin", io.BytesIO(data),
                                          "7")
    assert local_service.read_document_sync(p2) == data

    async def broken():
        yield b"abc"
        raise ValueError("producer failed")
    before = files_under(store_root(tmp_path))
    with pytest.raises(ValueError, match="producer failed"):
        await local_service.store_stream("3", "c.bin", broken(), "7")
    assert files_under(store_root(tmp_path)) == before
    with pytest.raises(TypeError, match="async iterator"):
        local_service.store_stream_sync("3", "c.bin", broken(), "7")


@pytest.mark.asyncio
async def test_iter_document(local_service):
    data = pattern(3 * MIB + 7, 15)
    path = put(local_service, data)
    parts = [c async for c in local_service.iter_document(
        path, expect=("1", "7"), chunk_size=MIB)]
    assert b"".join(parts) == data
    assert max(len(p) for p in parts) <= MIB and len(parts) >= 4
    ranged = [c async for c in local_service.iter_document(
        path, offset=MIB - 3, length=10)]
    assert b"".join(ranged) == data[MIB - 3:MIB + 7]
    # Leaving the loop early closes the reader.
    async for chunk in local_service.iter_document(path, chunk_size=1000):
        assert chunk == data[:1000]
        break
    with pytest.raises(docstore.NotFoundError):
        async for _ in local_service.iter_document("documents/none.json"):
            pass


@pytest.mark.asyncio
async def test_a_cancelled_task_aborts_the_document(local_service, tmp_path):
    before = files_under(store_root(tmp_path))
    gate = asyncio.Event()

    async def endless():
        while True:
            gate.set()
            yield b"\0" * 65536

    task = asyncio.create_task(local_service.store_stream(
        "1", "scan.pdf", endless(), "7"))
    await gate.wait()
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert files_under(store_root(tmp_path)) == before


# ---------------------------------------------------------------- memory

def test_peak_rss_of_a_1_gib_stream(tmp_path):
    """bench/python_stream_rss.py stores and retrieves 1 GiB (generated,
    never in memory as a whole) in fresh processes: each one's peak RSS
    grows by less than 64 MiB over its size before the transfer."""
    import subprocess
    import sys
    script = os.path.join(os.path.dirname(__file__), "..", "..", "..",
                          "bench", "python_stream_rss.py")
    done = subprocess.run(
        [sys.executable, script, "--size", str(1 << 30), "--dir",
         str(tmp_path)], check=True, capture_output=True, text=True,
        timeout=600)
    line = done.stdout.strip().splitlines()
    assert len(line) == 1 and line[0].startswith("python "), done.stdout
    fields = dict(kv.split("=") for kv in line[0].split()[1:])
    assert sorted(fields) == ["get_peak_rss_kib", "put_peak_rss_kib", "size"]
    assert fields["size"] == str(1 << 30)
    detail = done.stderr.strip().splitlines()[-1]
    assert detail.endswith(" identical"), done.stderr
    growth = dict(kv.split("=") for kv in detail.split()[:-1])
    assert int(growth["put_growth_kib"]) < 64 * 1024, detail
    assert int(growth["get_growth_kib"]) < 64 * 1024, detail
    assert int(fields["put_peak_rss_kib"]) >= int(growth["put_base_kib"]) > 0


# ---------------------------------------------------------------- the seed

@pytest.mark.asyncio
async def test_seed_calls_unchanged_beside_streams(local_service, keyring,
                                                   tmp_path):
    # The backend's envelope dict in, the same dict out.
    envelope = json.loads(keyring.seal(b"passport", "4", "456"))
    path = await local_service.store_encrypted_document(
        file_id=4, filename="passport.pdf", encrypted_data=envelope,
        user_id=456)
    assert await local_service.retrieve_encrypted_document(path) == envelope
    provider = docstore.LocalStorageProvider(str(tmp_path / "raw"))
    assert await provider.upload_file("a/b.txt", b"content") == "a/b.txt"
    assert await provider.download_file("a/b.txt") == b"content"
    # A streamed (binary v2) document comes back as its bytes, which
    # store_encrypted_document takes back.
    data = pattern(200_000, 14)
    v2 = put(local_service, data, "5", "456")
    raw = await local_service.retrieve_encrypted_document(v2)
    assert isinstance(raw, bytes) and raw.startswith(b"\x89DSE\r\n\x1a\n")
    info = docstore.envelope_info(raw)
    assert (info.format, info.file_id, info.user_id) == (2, "5", "456")
    assert info.plaintext_size == len(data) and info.segment_size == 65536
    assert not info.compressed and info.recipients_count == 1
    local_service.delete_document_sync(v2)
    again = await local_service.store_encrypted_document(5, "scan.pdf", raw,
                                                         456)
    assert local_service.read_document_sync(again, "5", "456") == data


def test_v1_and_legacy_documents_stream_too(local_service, keyring,
                                            key_pair):
    from helpers import legacy_envelope
    data = pattern(300_000, 16)
    # v1 JSON, written through the writer or sealed by the keyring.
    p1 = put(local_service, data, "1", "7", envelope_version=1)
    assert isinstance(local_service.retrieve_encrypted_document_sync(p1),
                      dict)
    legacy = legacy_envelope(b"legacy scan", key_pair[1])
    p2 = local_service.store_encrypted_document_sync("2", "old.pdf", legacy,
                                                     "7")
    for path, expect, plain in ((p1, ("1", "7"), data),
                                (p2, None, b"legacy scan")):
        with local_service.open_reader(path, expect=expect) as r:
            assert r.size == len(plain)
            assert r.read() == plain
    with pytest.raises(docstore.UnsupportedError):
        local_service.open_reader(p1, offset=10)


def test_service_envelope_options(tmp_path, key_pair):
    def service(**options):
        keyring = docstore.Keyring()
        keyring.add_private_pem(key_pair[1])
        return docstore.ObjectStorageService(
            docstore.LocalStorageProvider(str(tmp_path / "s")), keyring,
            **options)
    data = b"compressible text " * 10_000
    v1 = service(envelope_version=1)
    env = v1.retrieve_encrypted_document_sync(
        v1.store_document_sync("1", "a.txt", data, "7"))
    assert isinstance(env, dict) and env["version"] == 1
    small = service(segment_size=4096, compression_level=3)
    raw = small.retrieve_encrypted_document_sync(
        small.store_document_sync("2", "a.txt", data, "7"))
    info = docstore.envelope_info(raw)
    assert info.format == 2 and info.segment_size == 4096
    assert info.compressed and len(raw) < len(data) // 10
    assert small.read_document_sync(
        small.store_stream_sync("3", "b.txt", io.BytesIO(data), "7")) == data
    with pytest.raises(docstore.DocstoreError):
        service(segment_size=1000)

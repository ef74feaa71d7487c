# Awaitables never block the event loop: the C call runs in a worker thread
# with the GIL released, so many stores from one loop are in flight at once.
# SPDX-License-Identifier: Apache-2.0
import asyncio
import threading

import pytest

import docstore


class GatedProvider(docstore.CustomProvider):
    """An in-memory provider that counts the puts in flight.  The first put
    waits until a second one has started (or 30 s have passed): if the
    awaitables ran one at a time, or blocked the event loop, no second put
    could start while the first waits, and the maximum would stay 1."""

    name = "gated"

    def __init__(self):
        self.lock = threading.Condition()
        self.in_flight = 0
        self.max_in_flight = 0
        self.gave_up = False
        self.threads = set()
        self.objects = {}

    def put(self, key, data):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.threads.add(threading.get_ident())
            self.lock.notify_all()
            if not self.lock.wait_for(
                    lambda: self.max_in_flight > 1 or self.gave_up,
                    timeout=30):
                self.gave_up = True  # no overlap: let the others through
            self.objects[key] = data
            self.in_flight -= 1

    def get(self, key):
        with self.lock:
            return self.objects[key]

    def head(self, key):
        with self.lock:
            return len(self.objects[key])

    def delete(self, key):
        with self.lock:
            self.objects.pop(key, None)


@pytest.mark.asyncio
async def test_100_concurrent_stores_overlap(keyring):
    backend = GatedProvider()
    svc = docstore.ObjectStorageService(
        docstore.StorageProvider.from_custom(backend), keyring)
    loop_thread = threading.get_ident()
    ticks = 0

    async def ticker(stop):
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    stop = asyncio.Event()
    tick_task = asyncio.create_task(ticker(stop))
    paths = await asyncio.gather(*[
        svc.store_document(str(i), "doc.pdf", b"%d" % i, "u1")
        for i in range(100)])
    stop.set()
    await tick_task

    assert backend.max_in_flight > 1, "stores never overlapped"
    assert len(backend.threads) > 1
    assert loop_thread not in backend.threads  # never on the loop's thread
    assert ticks > 0  # the loop kept running while stores were in flight
    assert len(set(paths)) == 100
    for i, path in enumerate(paths):
        assert await svc.read_document(path, str(i), "u1") == b"%d" % i
    assert svc.stats()["put"]["successes"] == 100


@pytest.mark.asyncio
async def test_100_concurrent_stores_on_local_storage(local_service):
    paths = await asyncio.gather(*[
        local_service.store_document(str(i), "passport.pdf", b"P%d" % i,
                                     str(i % 7))
        for i in range(100)])
    assert len(set(paths)) == 100
    docs = await asyncio.gather(*[
        local_service.read_document(p, str(i), str(i % 7))
        for i, p in enumerate(paths)])
    assert docs == [b"P%d" % i for i in range(100)]
    assert local_service.stats()["put"]["failures"] == 0

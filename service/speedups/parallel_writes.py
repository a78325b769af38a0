"""One batch's frames written to many sockets from two threads at once, the send system calls in parallel.

Why: on loopback the kernel does the receiving side's TCP work inside the sender's send call, so writing one
event to thousands of sockets through their transports is that call thousands of times in a row on the event
loop's thread, one core busy and the other idle. `os.write` releases the GIL while the kernel works, so the same
calls shared between the loop's thread and a worker thread run on two cores at once.

What keeps it correct (live_delivery.py's `Hub` calls it, the loop's thread waiting for the worker, so nothing
else writes to any socket meanwhile): a socket is written directly only while its transport has nothing
buffered and is not closing, and a socket's bytes of the batch are one write by one thread; what a partial
write or EAGAIN leaves unwritten goes to `transport.write` afterwards, on the loop's thread, in order; any other
error hands the whole to `transport.write`, which fails and reports it as it would have. Only plain sockets
(not TLS, whose transport encrypts) and connections without permessage-deflate (whose bytes differ per
connection) are written here.
"""

from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import Future
from typing import Any

# Fewer sockets than this are written on the loop's thread alone: handing over costs more than it saves.
SPLIT_FROM = 64


def direct_fd(transport: Any) -> int:
    """The socket's descriptor if frames may be written to it directly, else -1."""
    if transport.get_extra_info("sslcontext") is not None or transport.get_extra_info("ssl_object") is not None:
        return -1
    sock = transport.get_extra_info("socket")
    return -1 if sock is None else int(sock.fileno())


class _Worker:
    """One persistent thread writing its share of each batch it is handed."""

    def __init__(self) -> None:
        self._work: list[tuple[Future[None], list[tuple[Any, int, bytes]], list[int], Any]] = []
        self._ready = threading.Condition()
        threading.Thread(target=self._run, name="live-writes", daemon=True).start()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._work:
                    self._ready.wait()
                done, writes, written, indices = self._work.pop()
            try:
                _send(writes, written, indices)
            except BaseException as e:  # the loop's thread raises it; this thread stays for the next batch
                done.set_exception(e)
            else:
                done.set_result(None)

    def share(self, writes: list[tuple[Any, int, bytes]], written: list[int], indices: Any) -> Future[None]:
        done: Future[None] = Future()
        with self._ready:
            self._work.append((done, writes, written, indices))
            self._ready.notify()
        return done


_worker: _Worker | None = None


def _send(writes: list[tuple[Any, int, bytes]], written: list[int], indices: Any) -> None:
    # Both threads draw from one counter (its next() is atomic), so neither waits while the other has work left.
    write = os.write
    n = len(writes)
    for i in indices:
        if i >= n:
            return
        try:
            written[i] = write(writes[i][1], writes[i][2])
        except OSError:
            pass  # 0 written: EAGAIN leaves it to the transport's buffer, any other error to the transport's report


def write_all(writes: list[tuple[Any, int, bytes]]) -> None:
    """Write each (transport, descriptor, bytes), every descriptor a distinct socket whose transport has nothing
    buffered; on the loop's thread, which returns once everything is written or handed to the transports."""
    global _worker
    written = [0] * len(writes)
    indices = itertools.count()
    if len(writes) >= SPLIT_FROM:
        if _worker is None:
            _worker = _Worker()
        done = _worker.share(writes, written, indices)
        _send(writes, written, indices)
        done.result()
    else:
        _send(writes, written, indices)
    for (transport, _, data), count in zip(writes, written, strict=True):
        if count < len(data):
            transport.write(data[count:] if count else data)

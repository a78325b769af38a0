"""Stopping a process on SIGTERM or SIGINT, however many arrive and whenever.

A Python signal handler runs in the main thread between two bytecodes of whatever it was doing, so it
must take no lock that code might hold: `threading.Event.set()` takes the event's lock, and a second
signal arriving while the first handler (or the main thread's own `wait()`) held it deadlocked the
projector for good, its leader's lock held. Here the handler only sets a flag and writes a byte to a
pipe, which `wait()` selects on: nothing to deadlock on, however the signals nest.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import threading
import time
from types import FrameType

log = logging.getLogger(__name__)

# How long a stop may take before the process ends itself: a stop is normally seen within a second (between
# two transactions of a catch-up, or at the live projection's next wake-up).
GRACE_SECONDS = 10.0


class SignalStop:
    """A stop flag that a signal handler may set: `is_set()` and `wait()` as threading.Event's."""

    def __init__(self) -> None:
        self._set = False
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)

    def set(self) -> None:
        self._set = True
        try:
            os.write(self._write, b"\0")
        except BlockingIOError:
            pass  # the pipe is full of earlier stops: wait() wakes anyway

    def is_set(self) -> bool:
        return self._set

    def fileno(self) -> int:
        """A descriptor that becomes readable once the stop is set, for an event loop to watch."""
        return self._read

    def wait(self, timeout: float | None = None) -> bool:
        if not self._set:
            select.select([self._read], [], [], timeout)
        return self._set


def stop_on_signals(grace_seconds: float = GRACE_SECONDS) -> SignalStop:
    """A stop set by SIGTERM or SIGINT; if the process is still running `grace_seconds` after the first,
    it ends at once (its sessions, and the locks they hold, go with it). Call from the main thread."""
    stop = SignalStop()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    def end_if_stuck() -> None:
        stop.wait()
        time.sleep(grace_seconds)  # a daemon thread: a process that ends meanwhile ends it too
        log.error("still running %.0f s after being asked to stop: ending now", grace_seconds)
        os._exit(1)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    threading.Thread(target=end_if_stuck, name="stop-watchdog", daemon=True).start()
    return stop


def exit_on_signals() -> None:
    """SIGTERM and SIGINT end the process by raising SystemExit in the main thread, so `with` blocks exit.

    A process's default on SIGTERM is to die on the spot: `serve` then left its embedded PostgreSQL running
    (uvicorn handles the signal while it serves, then raises it again once it has shut down). The first signal
    raises; later ones are ignored, so that they cannot interrupt the stop the first one began (stopping the
    embedded PostgreSQL takes a moment). Call from the main thread.
    """

    def handle(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise SystemExit(128 + signum)  # as a shell reports a process ended by the signal

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)

"""How this project's processes run: the garbage collector, the interpreter's thread switching, and
helper processes that end with their parent. The service and a catch-up both take their settings here.

The garbage collector. CPython's default thresholds (700, 10, 10) suit small scripts. A service
process holding a thousand WebSockets keeps some 300,000 long-lived objects, and every status change
fanned out to them makes short-lived objects that survive a young collection or two; they count toward
a full collection, which walks every object: 100-200 ms with 1,000 subscribers on this project's
2-core machine (bench/subscribers.py), a pause every subscriber waits through. A larger young
generation lets those objects die before they are promoted; collecting the middle generation every 5
young collections keeps it under about 100,000 objects (a pause of tens of ms); freezing what exists
once the service has started (modules, the schema, pools) keeps it out of every later collection.
Measured with 1,000 subscribers: p99 delivery 270-300 ms with CPython's defaults, 130-170 ms with these,
on the same loaded machine.

A catch-up keeps every row it makes, in its cache and its batch: at CPython's default thresholds they
were promoted to the old generation and set off full collections of all of them, a fifth of a rebuild's
time (0.4 s of 2.1 s on the medium bench); none with the same thresholds as the service.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

# The collector's thresholds for the service (ML_GC_THRESHOLDS overrides them) and for a catch-up.
GC_THRESHOLDS = (20_000, 5, 20)
# The GIL switch interval while catching up (CPython's default is 5 ms). The writer and reader threads
# release the GIL at every round trip and every 32 kB of COPY, then wait for it while the projecting
# thread works: up to the interval each time, dozens of times a transaction, so at the default the
# writer fell behind and the projecting thread waited for it (docs/performance.md).
CATCH_UP_SWITCH = 0.001

PARENT = "ML_EXIT_WITH_PARENT"  # the environment variable naming a helper process's parent's pid
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def parse_thresholds(text: str | None) -> tuple[int, int, int]:
    """`ML_GC_THRESHOLDS`, e.g. "20000,5,20"; "700,10,10" is CPython's own. GC_THRESHOLDS when unset."""
    if not text:
        return GC_THRESHOLDS
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or any(v < 0 for v in values):
        raise ValueError(f"ML_GC_THRESHOLDS must be three whole numbers such as 20000,5,20, not {text!r}")
    return values[0], values[1], values[2]


def tune_service(thresholds: tuple[int, int, int]) -> None:
    """Call once the service has started: what exists then lives as long as the process."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)


@contextmanager
def catching_up(collect_cycles: bool = True) -> Iterator[None]:
    """GC_THRESHOLDS and CATCH_UP_SWITCH for the block, where the process's own would collect more
    often or switch threads less often; the process's own restored after.

    Without `collect_cycles`, no cyclic collection at all during the block. Even at GC_THRESHOLDS the
    young collections traverse every row and aggregate the run keeps, while projecting makes next
    to no cyclic garbage (a few hundred unreachable objects a rebuild: connections and futures), so
    memory still follows what is kept. Only for a
    rebuild: a catch-up in a serving process shares it with requests, which do make cycles.
    """
    with ExitStack() as restore:
        # Each setting is changed only towards catching up faster, and put back as it was on exit.
        if not collect_cycles and gc.isenabled():
            gc.disable()
            restore.callback(gc.enable)
        if (thresholds := gc.get_threshold())[0] < GC_THRESHOLDS[0]:
            gc.set_threshold(*GC_THRESHOLDS)
            restore.callback(gc.set_threshold, *thresholds)
        if (interval := sys.getswitchinterval()) > CATCH_UP_SWITCH:
            sys.setswitchinterval(CATCH_UP_SWITCH)
            restore.callback(sys.setswitchinterval, interval)
        yield


def parent_env() -> dict[str, str]:
    """What to add to a helper process's environment so that `exit_with_parent` ties it to this process.

    `measure-ledger serve` starts a projector process, and a rebuild a process for each share. Killed
    outright (SIGKILL, the out-of-memory killer), the parent cannot stop them: untied, a projector would
    go on leading the projection for nobody, and a rebuild's shares would go on writing tables that the
    next start rebuilds anyway.
    """
    return {PARENT: str(os.getpid())}


def exit_with_parent() -> None:
    """Be sent SIGTERM when the parent named in the environment ends (Linux, PR_SET_PDEATHSIG; elsewhere, nothing).

    Call it first thing in the helper process. The kernel signals when the thread that started the
    child ends, so the parent starts such children from a thread that outlives them (its main thread,
    or one that waits for them).
    """
    pid = os.environ.get(PARENT)
    if not pid or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        return
    if os.getppid() != int(pid):
        # The parent ended before the request was made: nobody will signal.
        os.kill(os.getpid(), signal.SIGTERM)

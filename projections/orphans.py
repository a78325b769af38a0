"""A helper process that ends with the process that started it.

`measure-ledger serve` starts a projector process, and a rebuild starts a process for each share.
Killed outright (SIGKILL, the out-of-memory killer), the parent cannot stop them: without this, a
projector would go on leading the projection for nobody, and a rebuild's shares would go on writing
tables that the next start rebuilds anyway.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PARENT = "ML_EXIT_WITH_PARENT"  # the environment variable naming the parent's pid
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def parent_env() -> dict[str, str]:
    """What to add to a child's environment so that `exit_with_parent` ties it to this process."""
    return {PARENT: str(os.getpid())}


def exit_with_parent() -> None:
    """Be sent SIGTERM when the parent named in the environment ends (Linux; elsewhere, nothing).

    Call it first thing in the child. The kernel signals when the thread that started the child ends,
    so the parent starts such children from a thread that outlives them (its main thread, or one that
    waits for them).
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

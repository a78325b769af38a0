"""When to try a failing webhook again: exponential back-off with jitter.

After the n-th failure in a row the next attempt waits about `base × 2^(n−1)` seconds, at most `cap`,
of which a random half: "equal jitter", so receivers that failed together (one outage) are not all
tried again in the same second, and no wait is shorter than half its step. With the defaults (5 s,
one hour) the waits are 5, 10, 20 … seconds, then hourly after about nine failures.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def retry_delay(failures: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the `failures`-th failure in a row (1 for the first)."""
    step = min(cap, base * 2.0 ** min(max(failures, 1) - 1, 60))
    return step / 2 + rand() * step / 2

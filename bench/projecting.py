"""The projecting thread alone: CPU per event of `CurrentState.process_event` over events read beforehand, with
no table written, or the Python bytecodes it executes per event, by function.

    python -m bench.projecting --database-url URL                        # every event, CPU µs per event
    python -m bench.projecting --database-url URL --events 8000 --shares 2 --opcodes
    valgrind --tool=callgrind --separate-threads=yes python -m bench.projecting --database-url URL --events 8000

The events (the first `--events` of share 1 of `--shares`, as a rebuild's first share reads them) are read and
decoded before the projection starts, and projected on a thread of their own named "projector", so that
callgrind's file for that thread (`--separate-threads=yes`) counts the projecting alone. The tables are not
written (the view's `write` does nothing), and the cyclic garbage collector is off, as in a rebuild. Bytecode
counts (`--opcodes`, through sys.settrace) do not depend on the machine's load: they compare two versions of the
code where timings on a shared machine cannot. The database is only read (the view's tables are made if
missing); to A/B another checkout, run this file with that checkout as the working directory and PYTHONPATH.
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time
from collections import Counter
from contextlib import closing
from types import FrameType
from typing import Any

from eventsourcing.persistence import Tracking

from projections.current_state import CurrentState
from service.settings import eventsourcing_env

try:
    from projections.catch_up import Share, _pages
    from projections.ledger_store.event_store import open_ledger
    from projections.view import open_view
except ImportError:  # 8f5ed2c's module names, for A/B runs against it
    from projections.event_store import open_ledger  # type: ignore[no-redef]

    from projections.runner import Share, _pages, open_view  # type: ignore[no-redef,attr-defined]


def counting(counts: Counter[str]) -> Any:
    """A trace function that counts, in `counts`, the bytecodes each function executes and its calls."""

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        code = frame.f_code
        name = f"{'/'.join(code.co_filename.split('/')[-2:])}:{code.co_firstlineno} {code.co_name}"
        counts[f"{name} (calls)"] += 1
        frame.f_trace_opcodes, frame.f_trace_lines = True, False

        def local(frame: FrameType, event: str, arg: object) -> Any:
            if event == "opcode":
                counts[name] += 1
            return local

        return local

    return trace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--events", type=int, default=0, help="how many events (default: every one of the share)")
    parser.add_argument("--shares", type=int, default=1, help="the events of share 1 of this many")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--opcodes", action="store_true", help="count bytecodes per event by function")
    parser.add_argument("--top", type=int, default=40, help="with --opcodes, how many functions to list")
    args = parser.parse_args()
    env = {**eventsourcing_env(args.database_url), "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "2"}
    ledger, view = open_ledger(env), open_view(env)
    last = ledger.recorder.max_notification_id() or 0
    events: list[tuple[int, Any]] = []
    with closing(_pages(ledger, 1, last, Share(0, args.shares) if args.shares > 1 else None)) as pages:
        for page in pages:
            events.extend(page)
            if args.events and len(events) >= args.events:
                break
    if args.events:
        del events[args.events :]
    view.write = lambda changes, tracking: None  # type: ignore[method-assign]
    gc.disable()
    counts: Counter[str] = Counter()

    def project() -> None:
        for _ in range(args.runs):
            projection = CurrentState(view, ledger)
            projection.batch_size = 2000
            cpu = time.thread_time()
            if args.opcodes:
                sys.settrace(counting(counts))
            for position, event in events:
                projection.process_event(event, Tracking(ledger.name, position))
            sys.settrace(None)
            cpu = time.thread_time() - cpu
            print(f"{len(events):,} events: {cpu / len(events) * 1e6:.2f} µs CPU/event on the projecting thread")
            projection.cache.clear()

    thread = threading.Thread(target=project, name="projector")
    thread.start()
    thread.join()
    if args.opcodes:
        n = len(events) * args.runs
        opcodes = sum(v for k, v in counts.items() if not k.endswith("(calls)"))
        calls = sum(v for k, v in counts.items() if k.endswith("(calls)"))
        print(f"{opcodes / n:.1f} bytecodes and {calls / n:.2f} Python calls per event")
        for name, count in [(k, v) for k, v in counts.most_common() if not k.endswith("(calls)")][: args.top]:
            print(f"{count / n:9.1f} {counts[f'{name} (calls)'] / n:6.2f} calls  {name}")
    ledger.close()
    view.datastore.close()


if __name__ == "__main__":
    main()

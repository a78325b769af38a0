"""Webhook deliveries to a local receiver: throughput, commit-to-delivery latency, and one stalled receiver.

    python -m bench.webhooks [--webhooks 100] [--backlog 40] [--rate 2] [--seconds 8]

DATABASE_URL names the PostgreSQL server (default postgresql://postgres@127.0.0.1:5432/test); a fresh
database is made and dropped. The projection and the dispatcher run as `serve` runs them, each in a
process of its own (`measure-ledger project`, `measure-ledger deliver`); the receiver (tests/receiver.py,
which verifies every signature) is a thread of this process, one path per webhook. Every webhook asks for
status changes of the same plan, so each status change is one delivery per webhook.

1. Throughput: `--backlog` status changes recorded while the dispatcher is down, then every webhook's
   backlog delivered: deliveries per second from the first arrival to the last.
2. Latency: status changes recorded at `--rate` a second for `--seconds`; each delivery's latency is its
   arrival less the event's recorded time (taken just before its commit).
3. The same with one receiver stalled (it answers nothing; the dispatcher's time-out is 2 s, then it
   backs off and tries again): the other receivers' p99 against theirs in 2, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import time
from datetime import datetime
from uuid import UUID

import asyncpg

from bench.server import fresh_database, percentile
from domain.ledger import Ledger
from projections.ledger_store.event_store import open_ledger
from projections.view import open_view
from service.pools import asyncpg_args
from service.projector import cli_process, projector_process
from service.settings import eventsourcing_env
from service.webhooks.tables import ensure_tables
from tests.integration.given import a_measure, a_plan
from tests.receiver import STALL, Receiver
from tests.webhooks.given import a_webhook, flip

DELIVER_ENV = {
    "ML_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    "ML_WEBHOOK_TIMEOUT_SECONDS": "2",
    "ML_WEBHOOK_RETRY_BASE_SECONDS": "0.5",
    "ML_WEBHOOK_RETRY_MAX_SECONDS": "2",
}


async def _webhooks(database_url: str, receiver: Receiver, count: int) -> list[str]:
    pool = await asyncpg.create_pool(**asyncpg_args(database_url), min_size=1, max_size=2)
    try:
        await ensure_tables(pool)
        names = [f"hook{i:03d}" for i in range(count)]
        for name in names:
            await a_webhook(pool, receiver, name)
        return names
    finally:
        await pool.close()


def _wait_all(receiver: Receiver, names: list[str], count: int, timeout: float = 300.0) -> None:
    for name in names:
        receiver.wait_for(name, count, timeout)


def _latencies(receiver: Receiver, names: list[str], skip: int) -> list[float]:
    """Milliseconds from each status change's recorded time to its first arrival, after the first `skip`."""
    found = []
    for name in names:
        for r in receiver.unique(name)[skip:]:
            assert r.body is not None
            recorded = datetime.fromisoformat(r.body["data"]["recordedAt"]).timestamp()
            found.append((r.wall - recorded) * 1000.0)
    return found


def _paced(ledger: Ledger, measure_id: UUID, done: int, rate: float, seconds: float) -> int:
    """Status changes at `rate` a second for `seconds`, after `done` of them; how many there are then."""
    count = int(rate * seconds)
    start = time.monotonic()
    for i in range(count):
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        flip(ledger, measure_id, 1, done=done + i)
    return done + count


def run(webhooks: int, backlog: int, rate: float, seconds: float) -> dict[str, float]:
    with fresh_database() as url:
        env = eventsourcing_env(url)
        ledger = open_ledger(env)
        open_view(env).datastore.close()
        receiver = Receiver().start()
        try:
            measure_id = a_measure(ledger, a_plan(ledger))
            names = asyncio.run(_webhooks(url, receiver, webhooks))
            flip(ledger, measure_id, backlog)
            with projector_process(url, output=subprocess.DEVNULL):
                with cli_process("deliver", url, env=DELIVER_ENV, output=subprocess.DEVNULL):
                    _wait_all(receiver, names, backlog)
                    arrivals = [r.at for name in names for r in receiver.unique(name)]
                    throughput = webhooks * backlog / (max(arrivals) - min(arrivals))

                    done = _paced(ledger, measure_id, backlog, rate, seconds)
                    _wait_all(receiver, names, done)
                    calm = _latencies(receiver, names[1:], backlog)

                    receiver.set_mode(names[0], STALL)
                    before = done
                    done = _paced(ledger, measure_id, done, rate, seconds)
                    _wait_all(receiver, names[1:], done)
                    stalled = _latencies(receiver, names[1:], before)
        finally:
            receiver.stop()
            ledger.close()
    return {
        "deliveries_per_second": throughput,
        "p50_ms": percentile(calm, 50),
        "p99_ms": percentile(calm, 99),
        "p50_stalled_ms": percentile(stalled, 50),
        "p99_stalled_ms": percentile(stalled, 99),
        "p99_ratio": percentile(stalled, 99) / percentile(calm, 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--webhooks", type=int, default=100)
    parser.add_argument("--backlog", type=int, default=40, help="status changes delivered as a backlog")
    parser.add_argument("--rate", type=float, default=2.0, help="status changes a second, for latency")
    parser.add_argument("--seconds", type=float, default=8.0, help="how long each latency phase records")
    args = parser.parse_args()
    found = run(args.webhooks, args.backlog, args.rate, args.seconds)
    print(f"webhooks: {args.webhooks}, backlog {args.backlog} status changes each, then {args.rate:g}/s")
    print(f"  deliveries/s (backlog)              {found['deliveries_per_second']:10.0f}")
    print(f"  commit-to-delivery p50 / p99 (ms)   {found['p50_ms']:10.1f} / {found['p99_ms']:.1f}")
    print(f"  one receiver stalled: p50 / p99     {found['p50_stalled_ms']:10.1f} / {found['p99_stalled_ms']:.1f}")
    print(f"  p99 ratio, stalled / calm           {found['p99_ratio']:10.2f}   (target: at most 1.5)")


if __name__ == "__main__":
    main()

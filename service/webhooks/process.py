"""`measure-ledger deliver`: the webhook dispatcher in a process of its own.

`serve` starts one beside the projector (`--projector process`, the default), so that posting to
receivers shares no interpreter with requests or with the projection. Nothing is lost if it dies or
wedges: every web process runs the dispatcher on standby (service/app.py), and one of them takes over.
"""

from __future__ import annotations

import asyncio
import signal

from service import metrics, metrics_sampler
from service.pools import asyncpg_args
from service.stopping import SignalStop
from service.webhooks.dispatcher import run_dispatcher
from service.webhooks.settings import WebhookSettings


def deliver(database_url: str, settings: WebhookSettings, asked: SignalStop) -> None:
    """Lead the deliveries whenever this process can, until `asked` is set (by SIGTERM or SIGINT)."""
    if not asked.is_set():
        asyncio.run(_deliver(database_url, settings, asked))


async def _deliver(database_url: str, settings: WebhookSettings, asked: SignalStop) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stopping() -> None:
        loop.remove_reader(asked.fileno())
        stop.set()

    # `asked` has taken the signals since the process started (service/cli.py): a stop sent while it loaded is
    # kept. From here the loop takes them, and still sets `asked`, whose grace period then runs.
    loop.add_reader(asked.fileno(), stopping)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, asked.set)
    # Under `serve`, its leadership reaches the web processes' /metrics (service/metrics.py).
    sampling = (
        asyncio.create_task(metrics_sampler.Sampler().sample_forever(stop)) if metrics.multiprocess_mode() else None
    )
    try:
        await run_dispatcher(asyncpg_args(database_url), settings, stop)
    finally:
        if sampling is not None:
            await sampling
        metrics.process_ended()

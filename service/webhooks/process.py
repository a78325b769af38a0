"""`measure-ledger deliver`: the webhook dispatcher in a process of its own.

`serve` starts one beside the projector (`--projector process`, the default), so that posting to
receivers shares no interpreter with requests or with the projection. Nothing is lost if it dies or
wedges: every web process runs the dispatcher on standby (service/app.py), and one of them takes over.
"""

from __future__ import annotations

import asyncio
import signal

from service import metrics
from service.pools import asyncpg_args
from service.webhooks.dispatcher import run_dispatcher
from service.webhooks.settings import WebhookSettings


def deliver(database_url: str, settings: WebhookSettings) -> None:
    """Lead the deliveries whenever this process can, until SIGTERM or SIGINT."""
    asyncio.run(_deliver(database_url, settings))


async def _deliver(database_url: str, settings: WebhookSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # Under `serve`, its leadership reaches the web processes' /metrics (service/metrics.py).
    sampling = asyncio.create_task(metrics.Sampler().sample_forever(stop)) if metrics.multiprocess_mode() else None
    try:
        await run_dispatcher(asyncpg_args(database_url), settings, stop)
    finally:
        if sampling is not None:
            await sampling
        metrics.process_ended()

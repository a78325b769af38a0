"""A ledger being projected, a webhook receiver, and the dispatcher, all on the test's own database."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from domain.ledger import Ledger
from projections.runner import run_projection
from projections.view import open_view
from service.pools import asyncpg_args
from service.webhooks.dispatcher import run_dispatcher
from service.webhooks.safety import AllowedHosts
from service.webhooks.settings import WebhookSettings
from service.webhooks.tables import ensure_tables
from tests.integration.given import a_measure, a_plan

# Short waits, so that back-off and giving up happen within a test.
FAST = WebhookSettings(
    allowed=AllowedHosts.parse("127.0.0.1"),
    timeout_seconds=2.0,
    retry_base_seconds=0.05,
    retry_max_seconds=0.2,
    poll_seconds=0.5,
    retry_seconds=0.2,
)


@pytest.fixture
def ledger(es_env: dict[str, str]) -> Iterator[Ledger]:
    app = Ledger(env=es_env)
    yield app
    app.close()


@pytest.fixture
def projecting(es_env: dict[str, str], ledger: Ledger) -> Iterator[None]:
    """The projection, leading in a thread: each event reaches the outbox as it is recorded."""
    open_view(es_env).datastore.close()  # the read model's tables, before anyone reads them
    stop = threading.Event()
    thread = threading.Thread(target=run_projection, args=(es_env, stop), kwargs={"retry_seconds": 0.2}, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(15)


@pytest.fixture
def plan_id(ledger: Ledger, projecting: None) -> UUID:
    """A plan of SSP, recorded once the projection is running."""
    return a_plan(ledger)


@pytest.fixture
def measure_id(ledger: Ledger, plan_id: UUID) -> UUID:
    """Measure 5.1 of `plan_id`, with one component, `total`."""
    return a_measure(ledger, plan_id)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(**asyncpg_args(database_url), min_size=1, max_size=4)
    await ensure_tables(p)
    yield p
    await p.close()


Dispatching = Callable[..., Any]


@pytest.fixture
def dispatching(database_url: str) -> Dispatching:
    """`async with dispatching(**settings):` runs a dispatcher in this process for the block."""

    @asynccontextmanager
    async def run(**changes: Any) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(run_dispatcher(asyncpg_args(database_url), replace(FAST, **changes), stop))
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)

    return run

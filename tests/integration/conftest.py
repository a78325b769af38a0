"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from projections.persistence import ConcurrentLedger


@pytest.fixture
def ledger(es_env: dict[str, str]) -> Iterator[ConcurrentLedger]:
    """The application on the test's own database, as the service runs it."""
    app = ConcurrentLedger(env=es_env)
    yield app
    app.close()

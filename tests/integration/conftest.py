"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.ledger import Ledger


@pytest.fixture
def ledger(es_env: dict[str, str]) -> Iterator[Ledger]:
    """The application on the test's own database."""
    app = Ledger(env=es_env)
    yield app
    app.close()

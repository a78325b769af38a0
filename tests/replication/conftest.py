from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.replication.cluster import Cluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """A primary and its streaming standby, for the whole run (tests/replication/cluster.py)."""
    with Cluster() as made:
        yield made


@pytest.fixture
def databases(cluster: Cluster) -> tuple[str, str]:
    """A fresh database on the primary, and the same database read on the standby: (primary, standby) URLs."""
    return cluster.create_database(f"ml_{uuid.uuid4().hex[:12]}")

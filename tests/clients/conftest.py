from __future__ import annotations

from pathlib import Path

import pytest

from tests.clients.npm import node_modules as install


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """tests/clients/package.json's packages, installed once per lock file (tests/clients/npm.py)."""
    return install()

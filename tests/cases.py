"""Tables of test cases whose rows begin with the case's name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest


def named(rows: Iterable[tuple[Any, ...]]) -> list[Any]:
    """Each row as a `pytest.param` of the row's other items, with the row's first item as its id."""
    return [pytest.param(*row[1:], id=row[0]) for row in rows]

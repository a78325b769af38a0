"""Tables of test cases whose rows begin with the case's name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from _pytest.mark import ParameterSet


def named(rows: Iterable[tuple[Any, ...]]) -> list[ParameterSet]:
    """Each row's other items as the parameters of a case with the row's first item as its id."""
    return [pytest.param(*row[1:], id=row[0]) for row in rows]

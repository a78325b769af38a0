"""Objects of the schema made from the read model's rows, where a field shows the column of its own name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")

# The columns a type's fields show, for each set of fields given otherwise: worked out once, not for every row.
_COLUMNS: dict[tuple[type, tuple[str, ...]], tuple[str, ...]] = {}


def from_columns(cls: type[T], r: Mapping[str, Any], **given: Any) -> T:
    """A `cls` whose fields are the row's columns of the same names, except those `given` (worked out from the
    row, stored under another name, or not stored)."""
    key = (cls, tuple(given))
    columns = _COLUMNS.get(key)
    if columns is None:
        # The fields set when the object is made; not those a resolver works out.
        made = (f.name for f in fields(cls) if f.init)  # type: ignore[arg-type]
        columns = _COLUMNS[key] = tuple(n for n in made if n not in given)
    return cls(**{n: r[n] for n in columns}, **given)

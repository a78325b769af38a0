"""What a write or read is aimed at, as the access policy needs it, and a cache of the ones seen.

A measure's partnership, theme and number are fixed when it is defined, and a plan's partnership when it
is created (domain/measure.py, domain/plan.py: no event changes them, and nothing is ever deleted). So
once found they stay true, and a process keeps them: a write to a measure seen before checks its access
without the two read-model round trips (the measure's row, then its plan's) that finding them costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from service.auth.policy import Where

# About 100 bytes an entry; a national ledger has some 9,000 measures and 3,000 plans.
MAX_ENTRIES = 20_000


@dataclass(frozen=True)
class Target:
    """What a write or read is aimed at, as the policy needs it."""

    partnership: str
    theme_code: str | None = None
    measure_number: str | None = None

    def where(self) -> Where:
        """The target as the policy's `can` and `require` take it."""
        return {"partnership": self.partnership, "theme_code": self.theme_code, "measure_number": self.measure_number}


Kind = Literal["plan", "measure"]


class KnownTargets:
    """Targets of plans and measures found so far; only ones that exist are kept (absence can change).

    Keyed by kind too: a plan's id asked for as a measure's must still find no measure.
    """

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._found: dict[tuple[Kind, UUID], Target] = {}

    def get(self, kind: Kind, aggregate_id: UUID) -> Target | None:
        return self._found.get((kind, aggregate_id))

    def keep(self, kind: Kind, aggregate_id: UUID, target: Target) -> Target:
        if len(self._found) >= self.max_entries:
            # Rare, and cheap to refill: simpler than tracking use.
            self._found.clear()
        self._found[(kind, aggregate_id)] = target
        return target

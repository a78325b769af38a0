"""The commands a client sends the ledger: one small frozen dataclass per use case.

A command holds what the client sent, unchecked: the aggregate it reaches
checks each value and names the field at fault. A command is fingerprinted
whole, so an idempotency key used again with any value changed is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from domain.definition import Definition
from domain.publishing import PublicationFacts
from domain.values import Amount, Quarter, Status

# Fingerprints stored before commands were classes spelled some values with
# short names; a retry after an upgrade must still match its stored key.
STORED_NAMES: Mapping[str, str] = {
    "plan_id": "plan",
    "measure_id": "measure",
    "theme_code": "theme",
    "period_start": "start",
    "period_end": "end",
    "discrepancy_threshold": "threshold",
    "component": "c",
    "quarter": "q",
    "amount": "a",
    "reported_change": "rc",
    "commentary": "text",
    "status": "s",
}
# Metadata of a field added after keys were stored: left out of the fingerprint while empty, so that a request
# that does not use it fingerprints as it did before the field existed.
ADDED = {"added": True}
# Metadata of a field the service gathers for a command rather than the client sending it: left out of the
# fingerprint, so a retry under the same idempotency key matches however the ledger moved meanwhile.
GATHERED = {"gathered": True}


@dataclass(frozen=True)
class Command:
    """A use case and its values, as one client asked for it."""

    name: ClassVar[str]  # the API's name for the use case: `submitFigure`, ...
    stored_names: ClassVar[Mapping[str, str]] = STORED_NAMES

    def fingerprint(self) -> str:
        """A digest of the use case and every value: equal exactly when two requests ask the same.

        The JSON's shape (names, `str` for what JSON lacks: UUIDs, Decimals, dates, amounts and
        definitions by their repr) is what idempotency keys already stored were made from.
        """
        values = {
            self.stored_names.get(f.name, f.name): getattr(self, f.name)
            for f in fields(self)
            if not f.metadata.get("gathered") and not (f.metadata.get("added") and not getattr(self, f.name))
        }
        payload = json.dumps([self.name, values], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()


# -- plans ---------------------------------------------------------------------


@dataclass(frozen=True)
class CreatePlan(Command):
    name = "createPlan"
    partnership: object
    title: object
    year: object
    period_start: date
    period_end: date
    discrepancy_threshold: Decimal | None = None  # None: the default threshold (domain/rules.py)


@dataclass(frozen=True)
class PlanCommand(Command):
    """A change to one plan."""

    plan_id: UUID


@dataclass(frozen=True)
class AddTheme(PlanCommand):
    name = "addTheme"
    code: object
    title: object


@dataclass(frozen=True)
class OpenCollection(PlanCommand):
    name = "openCollection"
    quarter: Quarter
    due_on: date


@dataclass(frozen=True)
class ChangeDueDate(PlanCommand):
    name = "changeDueDate"
    quarter: Quarter
    due_on: date
    reason: object


@dataclass(frozen=True)
class PublishQuarter(PlanCommand):
    name = "publishQuarter"
    quarter: Quarter
    title: object
    presented_on: date
    facts: PublicationFacts = field(metadata=GATHERED)
    force: bool = False
    reason: object = None


@dataclass(frozen=True)
class DefineMeasure(Command):
    name = "defineMeasure"
    plan_id: UUID
    theme_code: object
    number: object
    definition: Definition


# -- measures --------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureCommand(Command):
    """A change to one measure."""

    measure_id: UUID


@dataclass(frozen=True)
class RedefineMeasure(MeasureCommand):
    name = "redefineMeasure"
    stored_names = {**STORED_NAMES, "definition": "d"}
    definition: Definition
    reason: object


@dataclass(frozen=True)
class SetBaseline(MeasureCommand):
    name = "setBaseline"
    component: object
    amount: Amount
    period: object = None
    profile: Sequence[object] | None = None
    note: object = None


@dataclass(frozen=True)
class ResetBaseline(MeasureCommand):
    name = "resetBaseline"
    component: object
    amount: Amount
    reason: object
    period: object = None
    profile: Sequence[object] | None = None
    note: object = None


@dataclass(frozen=True)
class SubmitFigure(MeasureCommand):
    name = "submitFigure"
    component: object
    quarter: Quarter
    amount: Amount
    reported_change: object = None
    commentary: object = None


@dataclass(frozen=True)
class ReviseFigure(MeasureCommand):
    """A correction: `amount`'s parts, `reported_change` and `commentary` left None keep their value; the fields
    named in `clear` (FigureField names) are removed."""

    name = "reviseFigure"
    component: object
    quarter: Quarter
    amount: Amount | None
    reason: object
    reported_change: object = None
    commentary: object = None
    clear: tuple[object, ...] = field(default=(), metadata=ADDED)
    # A plan file's history is recorded as it stands: a revision that changed nothing, recorded before revisions
    # had to change something, is kept, so the figure's history and its revision numbers come back the same.
    as_recorded: bool = field(default=False, metadata=ADDED)


@dataclass(frozen=True)
class MarkFigureUnavailable(MeasureCommand):
    name = "markFigureUnavailable"
    component: object
    quarter: Quarter
    reason: object


@dataclass(frozen=True)
class UpdateCommentary(MeasureCommand):
    name = "updateCommentary"
    quarter: Quarter
    commentary: object


@dataclass(frozen=True)
class OverrideStatus(MeasureCommand):
    name = "overrideStatus"
    quarter: Quarter
    status: Status
    reason: object


@dataclass(frozen=True)
class ClearStatusOverride(MeasureCommand):
    name = "clearStatusOverride"
    quarter: Quarter
    reason: object


# -- the reporting cycle on a measure ------------------------------------------------


@dataclass(frozen=True)
class AssignOwner(MeasureCommand):
    name = "assignOwner"
    principal: object
    agency: object
    reason: object = None


@dataclass(frozen=True)
class SubmitReturn(MeasureCommand):
    name = "submitReturn"
    quarter: Quarter


@dataclass(frozen=True)
class ApproveReturn(MeasureCommand):
    name = "approveReturn"
    quarter: Quarter


@dataclass(frozen=True)
class SendBackReturn(MeasureCommand):
    name = "sendBackReturn"
    quarter: Quarter
    reason: object


@dataclass(frozen=True)
class ReopenReturn(MeasureCommand):
    name = "reopenReturn"
    quarter: Quarter
    reason: object

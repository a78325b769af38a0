"""Reading the ledger as it was: the position a query's `asOf` names, and who may ask for it."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info
from strawberry.types.arguments import StrawberryArgumentAnnotation

from service import read_model
from service.auth.policy import Action
from service.schema.errors import error


def as_of_argument(what: str) -> StrawberryArgumentAnnotation:
    """The `asOf` argument of a query reading `what` (e.g. `measure`): `Annotated[datetime | None, as_of_argument(
    "measure")]`."""
    return strawberry.argument(
        description=f"A moment, with its offset: the {what} as the ledger showed it then. Needs the auditor role. "
        "Null: now."
    )


def reading_action(as_of: datetime | None) -> Action:
    """Time travel is for auditors; the present is for viewers."""
    return Action.READ_CURRENT if as_of is None else Action.READ_AUDIT


async def position_at(info: Info, as_of: datetime | None) -> int | None:
    """The ledger position a read is made at: None for now, 0 before anything was recorded."""
    if as_of is None:
        return None
    info.context.require(Action.READ_AUDIT, None)
    if as_of.tzinfo is None:
        raise error("VALIDATION", "asOf: give a time zone offset, e.g. 2012-09-25T09:00:00Z", "asOf")
    return await read_model.position_at(info.context.reads, as_of)

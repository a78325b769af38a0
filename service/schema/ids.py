"""The `id` of every object a client cache keeps: stable, and unique across types.

Plans, measures, publications and webhooks have their own UUIDs. Objects that
live inside one of them are named by their type and their place in it
(`Figure:<measure id>:<component>:<quarter>`), and ledger records by their
position, so the same object always has the same id, whenever and however it
is read, and no two objects of any types share one (Relay keys its store by
`id` alone). Clients must treat them as opaque.
"""

from __future__ import annotations

import strawberry


def object_id(type_name: str, *parts: object) -> strawberry.ID:
    """The id of a `type_name` object at this place, e.g. ("Figure", measure id, component, quarter)."""
    return strawberry.ID(":".join((type_name, *map(str, parts))))

"""The Ledger as a service process runs it: many threads writing at once to a store other processes share.

`domain/ledger.py` says what a command does (load, call, save). Three things
here make it fast when many officers write at once, and change no outcome:

- Group commit (`projections/group_commit.py`): saves from concurrent threads
  share transactions, since the event store takes a table lock for each one.
- A command's first attempt starts from the aggregate as this process last
  saved it, not from a load that asks the store for anything newer.
- A command that met another write waits a moment, spread at random, before
  it is made again, so that writers colliding on one measure do not collide
  again in step.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from copy import deepcopy
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from domain.commands import Command
from domain.errors import DomainError
from domain.ledger import Ledger, Request, Written
from projections.group_commit import GroupCommit, collected

A = TypeVar("A", bound=Aggregate)


class ConcurrentLedger(Ledger):
    """The Ledger with group commit, commands started from cached aggregates, and retries spread out."""

    # The same application, so the same tables and settings: the library would name a subclass after itself.
    name = Ledger.name

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group_commit = GroupCommit(self._record)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """As `Application.save`, but written together with any saves made at the same moment."""
        if kwargs:
            return super().save(*objs, **kwargs)
        batch = collected(*objs)
        recordings = self.group_commit.save(batch)
        self._take_snapshots(batch)
        self._notify(recordings)
        return recordings

    def _change(
        self,
        kind: type[A],
        aggregate_id: UUID,
        command: Command,
        req: Request,
        call: Callable[[A], None],
    ) -> Written:
        """First from the cached aggregate; if that is refused or collides, as the Ledger does from the store.

        The first attempt starts from the cached aggregate as this process last saw it, without asking
        the store whether another process has moved it on since (a round trip per write, in this process
        and in the database). That is safe for a change to the aggregate loaded: were the cache behind,
        the save would collide with the version already stored, and the change is made again from the
        store's state. A refusal decided on the cached state (a conflict with `expectedVersion`, a
        figure not there yet) is decided again from the store's state before it is given.
        """
        cached = self._cached(kind, aggregate_id)
        if cached is not None:
            try:
                self._check_version(cached, req.expected_version)
                call(cached)
                return self._save_change(req, command, cached)
            except DomainError:
                pass  # decided again below, on the store's state
            except IntegrityError:
                if (found := self._replay(command, req)) is not None:
                    return found
        return super()._change(kind, aggregate_id, command, req, call)

    def _save_change(self, req: Request, command: Command, aggregate: Aggregate) -> Written:
        written = super()._save_change(req, command, aggregate)
        self._keep(aggregate)
        return written

    def _before_retry(self, attempt: int) -> None:
        time.sleep(random.uniform(0, 0.01 * (attempt + 1)))

    def _cached(self, kind: type[A], aggregate_id: UUID) -> A | None:
        """A copy of the aggregate as this process last saw it, or None if it is not cached."""
        cache = self.repository.cache
        if cache is None:
            return None
        try:
            cached = cache.get(aggregate_id)
        except KeyError:
            return None
        # Copied, as the repository copies what it hands out: a refused command must not touch the cache.
        return deepcopy(cached) if isinstance(cached, kind) else None

    def _keep(self, aggregate: Aggregate) -> None:
        """Keep a command's aggregate, as saved, for the next command on it.

        With fast-forward on, the library leaves the cache at the state loaded before the command, so
        the next load would fetch, decode and apply the event just written. This aggregate was copied
        from the cache and is dropped after the command, so nothing changes it once kept. Fast-forward
        still brings it up to date with writes from other threads or processes (and a kept state
        older than one kept meanwhile is brought forward the same way).
        """
        cache = self.repository.cache
        if cache is not None and self.repository.fastforward:
            cache.put(aggregate.id, aggregate)

"""The Ledger application: each command is carried out as load, call, save.

A command (domain/commands.py) names the aggregate it changes; the Ledger loads
it, calls the aggregate's method with the command's values, and saves the
events, with the command's idempotency key in the same transaction. It imports
no database driver: the persistence module comes from settings
(`PERSISTENCE_MODULE=eventsourcing.postgres` and the `POSTGRES_*` variables).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from domain.commands import (
    AddTheme,
    ClearStatusOverride,
    Command,
    CreatePlan,
    DefineMeasure,
    MarkFigureUnavailable,
    MeasureCommand,
    OverrideStatus,
    RedefineMeasure,
    ResetBaseline,
    ReviseFigure,
    SetBaseline,
    SubmitFigure,
    UpdateCommentary,
)
from domain.errors import ConflictError, DomainError, NotFoundError, ValidationError
from domain.group_commit import GroupCommit, collected
from domain.idempotency import IdempotencyKey
from domain.measure import Measure
from domain.plan import Plan
from domain.rules import DEFAULT_DISCREPANCY_THRESHOLD
from domain.values import MAX_LABEL, required_text

A = TypeVar("A", bound=Aggregate)
# A write that names no version is retried on a fresh load when another lands
# first; a few concurrent officers on one measure settle within these.
RETRIES = 10
# The input field that names each kind of aggregate, for errors.
ID_FIELD: dict[type[Aggregate], str] = {Plan: "planId", Measure: "measureId"}


@dataclass(frozen=True)
class Written:
    """Where a write landed: the aggregate, its new version, and the log position.

    `position` is None when an idempotent retry returned an earlier result.
    """

    id: UUID
    version: int
    position: int | None
    replayed: bool = False


@dataclass(frozen=True)
class Request:
    """Who asks, what version they saw, and the key that makes a retry safe."""

    actor: str
    expected_version: int | None = None
    idempotency_key: str | None = None


class Ledger(Application[UUID]):
    """Every change to a plan or a measure, as events with who, when and why."""

    name = "ledger"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Saves from concurrent threads share transactions (domain/group_commit.py).
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

    def handle(self, command: Command, req: Request) -> Written:
        """Carry out `command` for `req.actor`: once, however often it is sent again under one idempotency key."""
        if (found := self._replay(command, req)) is not None:
            return found
        match command:
            case CreatePlan():
                return self._create_plan(command, req)
            case DefineMeasure():
                return self._define_measure(command, req)
            case AddTheme():
                return self._change(
                    Plan,
                    command.plan_id,
                    command,
                    req,
                    lambda plan: plan.add_theme(code=command.code, title=command.title, actor=req.actor),
                )
            case MeasureCommand():
                return self._change(
                    Measure, command.measure_id, command, req, lambda m: change_measure(m, command, req.actor)
                )
        raise TypeError(f"the ledger has no handler for {command!r}")

    def get_plan(self, plan_id: UUID) -> Plan:
        return self._get(Plan, plan_id)

    def get_measure(self, measure_id: UUID) -> Measure:
        return self._get(Measure, measure_id)

    def _create_plan(self, c: CreatePlan, req: Request) -> Written:
        threshold = DEFAULT_DISCREPANCY_THRESHOLD if c.discrepancy_threshold is None else c.discrepancy_threshold
        plan = Plan.create(
            partnership=c.partnership,
            title=c.title,
            year=c.year,
            period_start=c.period_start,
            period_end=c.period_end,
            discrepancy_threshold=threshold,
            actor=req.actor,
        )
        try:
            return self._save(req, c, plan)
        except IntegrityError:
            if (found := self._replay(c, req)) is not None:
                return found
            existing = self.get_plan(plan.id)
            raise ConflictError(
                "title",
                f"partnership {existing.partnership!r} already has a plan titled {existing.title!r}"
                f" (id {existing.id}, version {existing.version})",
                existing.version,
            ) from None

    def _define_measure(self, c: DefineMeasure, req: Request) -> Written:
        plan = self.get_plan(c.plan_id)
        self._check_version(plan, req.expected_version)
        code = required_text(c.theme_code, "themeCode", limit=MAX_LABEL)
        if plan.theme(code) is None:
            known = ", ".join(t.code for t in plan.themes) or "none yet"
            raise NotFoundError("themeCode", f"plan has no theme {code!r} (it has {known})", code)
        measure = Measure.define(
            plan_id=plan.id,
            theme_code=code,
            number=c.number,
            definition=c.definition,
            discrepancy_threshold=plan.discrepancy_threshold,
            actor=req.actor,
        )
        try:
            return self._save(req, c, measure)
        except IntegrityError:
            if (found := self._replay(c, req)) is not None:
                return found
            existing = self.get_measure(measure.id)
            raise ConflictError(
                "number",
                f"measure {existing.number} is already defined in this plan (id {existing.id})",
                existing.version,
            ) from None

    # -- the load, call, save cycle --------------------------------------------

    def _change(
        self,
        kind: type[A],
        aggregate_id: UUID,
        command: Command,
        req: Request,
        call: Callable[[A], None],
    ) -> Written:
        """Load, call, save; a concurrent write is retried unless the client named a version.

        The first attempt starts from the cached aggregate as this process last saw it, without asking
        the store whether another process has moved it on since (a round trip per write, in this process
        and in the database). That is safe for a change to the aggregate loaded: were the cache behind,
        the save would collide with the version already stored, and the change is made again from the
        store's state. A refusal decided on the cached state (a conflict with `expectedVersion`, a
        figure not there yet) is decided again from the store's state before it is given.
        """
        field = ID_FIELD[kind]
        fresh = False  # whether `aggregate` was brought up to date from the store
        for attempt in range(RETRIES):
            aggregate, fresh = self._load(kind, aggregate_id, fresh)
            try:
                self._check_version(aggregate, req.expected_version)
                call(aggregate)
            except DomainError:
                if fresh:
                    raise
                fresh = True
                continue
            try:
                return self._save(req, command, aggregate)
            except IntegrityError:
                if (found := self._replay(command, req)) is not None:
                    return found
                if not fresh:
                    # The cache may have been behind another process's write: try again from the store.
                    fresh = True
                    continue
                if req.expected_version is not None:
                    current = self._get(kind, aggregate_id).version
                    raise ConflictError(
                        "expectedVersion",
                        f"{field} {aggregate_id} is at version {current}, not {req.expected_version}",
                        current,
                    ) from None
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
        current = self._get(kind, aggregate_id).version
        raise ConflictError(
            "expectedVersion",
            f"{field} {aggregate_id} kept changing; retry at version {current}",
            current,
        )

    def _load(self, kind: type[A], aggregate_id: UUID, fresh: bool) -> tuple[A, bool]:
        """A copy of the cached aggregate unless `fresh` is asked for or it is not cached; else `_get`'s.

        Returns the aggregate and whether it was brought up to date from the store.
        """
        cache = self.repository.cache
        if not fresh and cache is not None:
            try:
                cached = cache.get(aggregate_id)
            except KeyError:
                cached = None
            if isinstance(cached, kind):
                # Copied, as the repository copies what it hands out: a refused command must not touch the cache.
                return deepcopy(cached), False
        return self._get(kind, aggregate_id), True

    def _save(self, req: Request, command: Command, aggregate: Aggregate) -> Written:
        items: list[Aggregate] = [aggregate]
        if req.idempotency_key:
            items.append(
                IdempotencyKey.use(
                    actor=req.actor,
                    key=req.idempotency_key,
                    fingerprint=command.fingerprint(),
                    target_id=aggregate.id,
                    target_version=aggregate.version,
                )
            )
        recordings = self.save(*items)
        self._cache_saved(aggregate)
        # The change's own position, not its idempotency key's, so a retry
        # can answer with the same one.
        position = max(r.notification.id for r in recordings if r.domain_event.originator_id == aggregate.id)
        return Written(aggregate.id, aggregate.version, position)

    def _cache_saved(self, aggregate: Aggregate) -> None:
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

    def _replay(self, command: Command, req: Request) -> Written | None:
        """The first result of a write already made under this idempotency key."""
        if not req.idempotency_key:
            return None
        key = required_text(req.idempotency_key, "idempotencyKey", limit=200)
        try:
            used: IdempotencyKey = self.repository.get(IdempotencyKey.create_id(req.actor, key))
        except AggregateNotFoundError:
            return None
        if used.fingerprint != command.fingerprint():
            raise ValidationError(
                "idempotencyKey",
                f"{key!r} was already used for a different request",
                key,
            )
        return Written(used.target_id, used.target_version, None, replayed=True)

    def _get(self, kind: type[A], aggregate_id: UUID) -> A:
        found: Aggregate | None
        try:
            found = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            found = None
        if not isinstance(found, kind):
            raise NotFoundError(
                ID_FIELD[kind],
                f"no {kind.__name__.lower()} with id {aggregate_id}",
                str(aggregate_id),
            )
        return found

    @staticmethod
    def _check_version(aggregate: Aggregate, expected: int | None) -> None:
        if expected is not None and expected != aggregate.version:
            raise ConflictError(
                "expectedVersion",
                f"{ID_FIELD[type(aggregate)]} {aggregate.id} is at version {aggregate.version}, not {expected}",
                aggregate.version,
            )


def change_measure(measure: Measure, c: MeasureCommand, actor: str) -> None:
    """Call the Measure method `c` asks for, with `c`'s values: what each measure command does."""
    match c:
        case RedefineMeasure():
            measure.redefine(c.definition, reason=c.reason, actor=actor)
        case SetBaseline():
            measure.set_baseline(c.component, c.amount, period=c.period, profile=c.profile, note=c.note, actor=actor)
        case ResetBaseline():
            measure.reset_baseline(
                c.component, c.amount, reason=c.reason, period=c.period, profile=c.profile, note=c.note, actor=actor
            )
        case SubmitFigure():
            measure.submit_figure(
                c.component,
                c.quarter,
                c.amount,
                reported_change=c.reported_change,
                commentary=c.commentary,
                actor=actor,
            )
        case ReviseFigure():
            measure.revise_figure(
                c.component,
                c.quarter,
                c.amount,
                reason=c.reason,
                reported_change=c.reported_change,
                commentary=c.commentary,
                actor=actor,
            )
        case MarkFigureUnavailable():
            measure.mark_figure_unavailable(c.component, c.quarter, reason=c.reason, actor=actor)
        case UpdateCommentary():
            measure.update_commentary(c.quarter, c.commentary, actor=actor)
        case OverrideStatus():
            measure.override_status(c.quarter, c.status, reason=c.reason, actor=actor)
        case ClearStatusOverride():
            measure.clear_status_override(c.quarter, reason=c.reason, actor=actor)
        case _:
            raise TypeError(f"no Measure method for {c!r}")

"""The Ledger application: one method per use case — load, call, save.

It imports no database driver: the persistence module comes from settings
(`PERSISTENCE_MODULE=eventsourcing.postgres` and the `POSTGRES_*` variables).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from domain.errors import ConflictError, DomainError, NotFoundError, ValidationError
from domain.group_commit import GroupCommit, collected
from domain.idempotency import IdempotencyKey
from domain.measure import Definition, Measure
from domain.plan import Plan
from domain.rules import DEFAULT_DISCREPANCY_THRESHOLD
from domain.values import MAX_LABEL, Amount, Quarter, Status, required_text

A = TypeVar("A", bound=Aggregate)
# A write that names no version is retried on a fresh load when another lands
# first; a few concurrent officers on one measure settle within these.
RETRIES = 10


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

    # -- plans ----------------------------------------------------------------

    def create_plan(
        self,
        req: Request,
        *,
        partnership: object,
        title: object,
        year: object,
        period_start: date,
        period_end: date,
        discrepancy_threshold: Decimal | None = None,
    ) -> Written:
        args = dict(
            partnership=partnership,
            title=title,
            year=year,
            start=period_start,
            end=period_end,
            threshold=discrepancy_threshold,
        )
        if (found := self._replay(req, "createPlan", args)) is not None:
            return found
        plan = Plan.create(
            partnership=partnership,
            title=title,
            year=year,
            period_start=period_start,
            period_end=period_end,
            discrepancy_threshold=(
                DEFAULT_DISCREPANCY_THRESHOLD if discrepancy_threshold is None else discrepancy_threshold
            ),
            actor=req.actor,
        )
        try:
            return self._save(req, "createPlan", args, plan)
        except IntegrityError:
            if (found := self._replay(req, "createPlan", args)) is not None:
                return found
            existing = self._get(Plan, plan.id, "id")
            raise ConflictError(
                "title",
                f"partnership {existing.partnership!r} already has a plan titled {existing.title!r}"
                f" (id {existing.id}, version {existing.version})",
                existing.version,
            ) from None

    def add_theme(self, req: Request, plan_id: UUID, *, code: object, title: object) -> Written:
        args = dict(plan=plan_id, code=code, title=title)
        return self._change(
            req,
            "addTheme",
            args,
            Plan,
            plan_id,
            "planId",
            lambda p: p.add_theme(code=code, title=title, actor=req.actor),
        )

    def get_plan(self, plan_id: UUID) -> Plan:
        return self._get(Plan, plan_id, "planId")

    # -- measures -------------------------------------------------------------

    def define_measure(
        self,
        req: Request,
        plan_id: UUID,
        *,
        theme_code: object,
        number: object,
        definition: Definition,
    ) -> Written:
        args = dict(plan=plan_id, theme=theme_code, number=number, definition=definition)
        if (found := self._replay(req, "defineMeasure", args)) is not None:
            return found
        plan = self.get_plan(plan_id)
        self._check_version(plan, req.expected_version, "planId")
        code = required_text(theme_code, "themeCode", limit=MAX_LABEL)
        if plan.theme(code) is None:
            known = ", ".join(t.code for t in plan.themes) or "none yet"
            raise NotFoundError("themeCode", f"plan has no theme {code!r} (it has {known})", code)
        measure = Measure.define(
            plan_id=plan.id,
            theme_code=code,
            number=number,
            definition=definition,
            discrepancy_threshold=plan.discrepancy_threshold,
            actor=req.actor,
        )
        try:
            return self._save(req, "defineMeasure", args, measure)
        except IntegrityError:
            if (found := self._replay(req, "defineMeasure", args)) is not None:
                return found
            existing = self.get_measure(measure.id)
            raise ConflictError(
                "number",
                f"measure {existing.number} is already defined in this plan (id {existing.id})",
                existing.version,
            ) from None

    def get_measure(self, measure_id: UUID) -> Measure:
        return self._get(Measure, measure_id, "measureId")

    def redefine_measure(self, req: Request, measure_id: UUID, definition: Definition, *, reason: object) -> Written:
        return self._measure(
            req,
            "redefineMeasure",
            measure_id,
            dict(d=definition, reason=reason),
            lambda m: m.redefine(definition, reason=reason, actor=req.actor),
        )

    def set_baseline(
        self,
        req: Request,
        measure_id: UUID,
        component: object,
        amount: Amount,
        *,
        period: object = None,
        profile: list[object] | None = None,
        note: object = None,
    ) -> Written:
        args = dict(c=component, a=amount, period=period, profile=profile, note=note)
        return self._measure(
            req,
            "setBaseline",
            measure_id,
            args,
            lambda m: m.set_baseline(
                component,
                amount,
                period=period,
                profile=profile,
                note=note,
                actor=req.actor,
            ),
        )

    def reset_baseline(
        self,
        req: Request,
        measure_id: UUID,
        component: object,
        amount: Amount,
        *,
        reason: object,
        period: object = None,
        profile: list[object] | None = None,
        note: object = None,
    ) -> Written:
        args = dict(
            c=component,
            a=amount,
            period=period,
            profile=profile,
            note=note,
            reason=reason,
        )
        return self._measure(
            req,
            "resetBaseline",
            measure_id,
            args,
            lambda m: m.reset_baseline(
                component,
                amount,
                reason=reason,
                period=period,
                profile=profile,
                note=note,
                actor=req.actor,
            ),
        )

    def submit_figure(
        self,
        req: Request,
        measure_id: UUID,
        component: object,
        quarter: Quarter,
        amount: Amount,
        *,
        reported_change: object = None,
        commentary: object = None,
    ) -> Written:
        args = dict(c=component, q=quarter, a=amount, rc=reported_change, text=commentary)
        return self._measure(
            req,
            "submitFigure",
            measure_id,
            args,
            lambda m: m.submit_figure(
                component,
                quarter,
                amount,
                reported_change=reported_change,
                commentary=commentary,
                actor=req.actor,
            ),
        )

    def revise_figure(
        self,
        req: Request,
        measure_id: UUID,
        component: object,
        quarter: Quarter,
        amount: Amount,
        *,
        reason: object,
        reported_change: object = None,
        commentary: object = None,
    ) -> Written:
        args = dict(
            c=component,
            q=quarter,
            a=amount,
            rc=reported_change,
            text=commentary,
            reason=reason,
        )
        return self._measure(
            req,
            "reviseFigure",
            measure_id,
            args,
            lambda m: m.revise_figure(
                component,
                quarter,
                amount,
                reason=reason,
                reported_change=reported_change,
                commentary=commentary,
                actor=req.actor,
            ),
        )

    def mark_figure_unavailable(
        self,
        req: Request,
        measure_id: UUID,
        component: object,
        quarter: Quarter,
        *,
        reason: object,
    ) -> Written:
        args = dict(c=component, q=quarter, reason=reason)
        return self._measure(
            req,
            "markFigureUnavailable",
            measure_id,
            args,
            lambda m: m.mark_figure_unavailable(component, quarter, reason=reason, actor=req.actor),
        )

    def update_commentary(self, req: Request, measure_id: UUID, quarter: Quarter, commentary: object) -> Written:
        args = dict(q=quarter, text=commentary)
        return self._measure(
            req,
            "updateCommentary",
            measure_id,
            args,
            lambda m: m.update_commentary(quarter, commentary, actor=req.actor),
        )

    def override_status(
        self,
        req: Request,
        measure_id: UUID,
        quarter: Quarter,
        status: Status,
        *,
        reason: object,
    ) -> Written:
        args = dict(q=quarter, s=status, reason=reason)
        return self._measure(
            req,
            "overrideStatus",
            measure_id,
            args,
            lambda m: m.override_status(quarter, status, reason=reason, actor=req.actor),
        )

    def clear_status_override(self, req: Request, measure_id: UUID, quarter: Quarter, *, reason: object) -> Written:
        args = dict(q=quarter, reason=reason)
        return self._measure(
            req,
            "clearStatusOverride",
            measure_id,
            args,
            lambda m: m.clear_status_override(quarter, reason=reason, actor=req.actor),
        )

    # -- the load, call, save cycle --------------------------------------------

    def _measure(
        self,
        req: Request,
        command: str,
        measure_id: UUID,
        args: dict[str, Any],
        call: Callable[[Measure], None],
    ) -> Written:
        return self._change(
            req,
            command,
            dict(args, measure=measure_id),
            Measure,
            measure_id,
            "measureId",
            call,
        )

    def _change(
        self,
        req: Request,
        command: str,
        args: dict[str, Any],
        kind: type[A],
        aggregate_id: UUID,
        field: str,
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
        if (found := self._replay(req, command, args)) is not None:
            return found
        fresh = False  # whether `aggregate` was brought up to date from the store
        for attempt in range(RETRIES):
            aggregate, fresh = self._load(kind, aggregate_id, field, fresh)
            try:
                self._check_version(aggregate, req.expected_version, field)
                call(aggregate)
            except DomainError:
                if fresh:
                    raise
                fresh = True
                continue
            try:
                return self._save(req, command, args, aggregate)
            except IntegrityError:
                if (found := self._replay(req, command, args)) is not None:
                    return found
                if not fresh:
                    # The cache may have been behind another process's write: try again from the store.
                    fresh = True
                    continue
                if req.expected_version is not None:
                    current = self._get(kind, aggregate_id, field).version
                    raise ConflictError(
                        "expectedVersion",
                        f"{field} {aggregate_id} is at version {current}, not {req.expected_version}",
                        current,
                    ) from None
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
        current = self._get(kind, aggregate_id, field).version
        raise ConflictError(
            "expectedVersion",
            f"{field} {aggregate_id} kept changing; retry at version {current}",
            current,
        )

    def _load(self, kind: type[A], aggregate_id: UUID, field: str, fresh: bool) -> tuple[A, bool]:
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
        return self._get(kind, aggregate_id, field), True

    def _save(self, req: Request, command: str, args: dict[str, Any], aggregate: Aggregate) -> Written:
        items: list[Aggregate] = [aggregate]
        if req.idempotency_key:
            items.append(
                IdempotencyKey.use(
                    actor=req.actor,
                    key=req.idempotency_key,
                    fingerprint=_fingerprint(command, args),
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

    def _replay(self, req: Request, command: str, args: dict[str, Any]) -> Written | None:
        """The first result of a write already made under this idempotency key."""
        if not req.idempotency_key:
            return None
        key = required_text(req.idempotency_key, "idempotencyKey", limit=200)
        try:
            used: IdempotencyKey = self.repository.get(IdempotencyKey.create_id(req.actor, key))
        except AggregateNotFoundError:
            return None
        if used.fingerprint != _fingerprint(command, args):
            raise ValidationError(
                "idempotencyKey",
                f"{key!r} was already used for a different request",
                key,
            )
        return Written(used.target_id, used.target_version, None, replayed=True)

    def _get(self, kind: type[A], aggregate_id: UUID, field: str) -> A:
        found: Aggregate | None
        try:
            found = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            found = None
        if not isinstance(found, kind):
            raise NotFoundError(
                field,
                f"no {kind.__name__.lower()} with id {aggregate_id}",
                str(aggregate_id),
            )
        return found

    @staticmethod
    def _check_version(aggregate: Aggregate, expected: int | None, field: str) -> None:
        if expected is not None and expected != aggregate.version:
            raise ConflictError(
                "expectedVersion",
                f"{field} {aggregate.id} is at version {aggregate.version}, not {expected}",
                aggregate.version,
            )


def _fingerprint(command: str, args: dict[str, Any]) -> str:
    payload = json.dumps([command, args], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()

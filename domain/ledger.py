"""The Ledger application: each command is carried out as load, call, save.

A command (domain/commands.py) names the aggregate it changes; the Ledger loads
it, calls the aggregate's method with the command's values, and saves the
events, with the command's idempotency key in the same transaction. It imports
no database driver: the persistence module comes from settings
(`PERSISTENCE_MODULE=eventsourcing.postgres` and the `POSTGRES_*` variables).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.commands import (
    AddTheme,
    ApproveReturn,
    AssignOwner,
    ChangeDueDate,
    ClearStatusOverride,
    Command,
    CreatePlan,
    DefineMeasure,
    MarkFigureUnavailable,
    MeasureCommand,
    OpenCollection,
    OverrideStatus,
    PlanCommand,
    PublishQuarter,
    RedefineMeasure,
    ReopenReturn,
    ResetBaseline,
    ReviseFigure,
    SendBackReturn,
    SetBaseline,
    SubmitFigure,
    SubmitReturn,
    UpdateCommentary,
)
from domain.errors import ConflictError, NotFoundError, ValidationError
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

    def handle(self, command: Command, req: Request) -> Written:
        """Carry out `command` for `req.actor`: once, however often it is sent again under one idempotency key."""
        if (found := self._replay(command, req)) is not None:
            return found
        match command:
            case CreatePlan():
                return self._create_plan(command, req)
            case DefineMeasure():
                return self._define_measure(command, req)
            case PublishQuarter():
                # The position a publication fixes, unless its facts were gathered at one: every position up to
                # the log's last is committed (the store assigns them in commit order).
                at = command.facts.position
                position = (self.recorder.max_notification_id() or 0) if at is None else at
                return self._change(
                    Plan, command.plan_id, command, req, lambda plan: publish(plan, command, position, req.actor)
                )
            case PlanCommand():
                return self._change(
                    Plan, command.plan_id, command, req, lambda plan: change_plan(plan, command, req.actor)
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
        return self._save_new(
            req,
            c,
            plan,
            "title",
            lambda existing: (
                f"partnership {existing.partnership!r} already has a plan titled {existing.title!r}"
                f" (id {existing.id}, version {existing.version})"
            ),
        )

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
        return self._save_new(
            req,
            c,
            measure,
            "number",
            lambda existing: f"measure {existing.number} is already defined in this plan (id {existing.id})",
        )

    def _save_new(self, req: Request, c: Command, new: A, field: str, taken: Callable[[A], str]) -> Written:
        """Save a new plan or measure. Its name (`field`) already taken is a conflict, saying `taken` of the one
        that has it, unless this is a retry of the very write that took it."""
        try:
            return self._save_change(req, c, new)
        except IntegrityError:
            if (found := self._replay(c, req)) is not None:
                return found
            existing = self._get(type(new), new.id)
            raise ConflictError(field, taken(existing), existing.version) from None

    def _change(
        self,
        kind: type[A],
        aggregate_id: UUID,
        command: Command,
        req: Request,
        call: Callable[[A], None],
    ) -> Written:
        """Load, call, save. When another write lands first, the command is made again on the state it
        left, unless the client named the version it saw: then it is a conflict naming the current one."""
        for attempt in range(RETRIES):
            aggregate = self._get(kind, aggregate_id)
            self._check_version(aggregate, req.expected_version)
            call(aggregate)
            try:
                return self._save_change(req, command, aggregate)
            except IntegrityError:
                if (found := self._replay(command, req)) is not None:
                    return found
                if req.expected_version is not None:
                    current = self._get(kind, aggregate_id).version
                    raise ConflictError(
                        "expectedVersion",
                        f"{ID_FIELD[kind]} {aggregate_id} is at version {current}, not {req.expected_version}",
                        current,
                    ) from None
                self._before_retry(attempt)
        current = self._get(kind, aggregate_id).version
        raise ConflictError(
            "expectedVersion",
            f"{ID_FIELD[kind]} {aggregate_id} kept changing; retry at version {current}",
            current,
        )

    def _before_retry(self, attempt: int) -> None:
        """Called before a command that met another write is made again (`attempt` from 0): here, at once."""

    def _save_change(self, req: Request, command: Command, aggregate: Aggregate) -> Written:
        """Save `aggregate`'s new events and, under the request's idempotency key, the command's fingerprint."""
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
        # The change's own position, not its idempotency key's, so a retry
        # can answer with the same one.
        position = max(r.notification.id for r in recordings if r.domain_event.originator_id == aggregate.id)
        return Written(aggregate.id, aggregate.version, position)

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


def change_plan(plan: Plan, c: PlanCommand, actor: str) -> None:
    """Call the Plan method `c` asks for, with `c`'s values: what each plan command does."""
    match c:
        case AddTheme():
            plan.add_theme(code=c.code, title=c.title, actor=actor)
        case OpenCollection():
            plan.open_collection(c.quarter, c.due_on, actor=actor)
        case ChangeDueDate():
            plan.change_due_date(c.quarter, c.due_on, reason=c.reason, actor=actor)
        case _:
            raise TypeError(f"no Plan method for {c!r}")


def publish(plan: Plan, c: PublishQuarter, position: int, actor: str) -> None:
    """Publish the quarter `c` names, fixing `position`."""
    plan.publish(
        c.quarter,
        title=c.title,
        presented_on=c.presented_on,
        force=c.force,
        reason=c.reason,
        facts=c.facts,
        position=position,
        actor=actor,
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
                clear=c.clear,
                unchanged_allowed=c.as_recorded,
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
        case AssignOwner():
            measure.assign_owner(c.principal, c.agency, reason=c.reason, actor=actor)
        case SubmitReturn():
            measure.submit_return(c.quarter, actor=actor)
        case ApproveReturn():
            measure.approve_return(c.quarter, actor=actor)
        case SendBackReturn():
            measure.send_back_return(c.quarter, reason=c.reason, actor=actor)
        case ReopenReturn():
            measure.reopen_return(c.quarter, reason=c.reason, actor=actor)
        case _:
            raise TypeError(f"no Measure method for {c!r}")

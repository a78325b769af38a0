"""Reconciling a plan file with what the ledger has recorded: each disagreement said plainly.

A file may only add to what is recorded; where the ledger holds something
else, the problem names both values and what to add to the file instead.
"""

from __future__ import annotations

from domain.definition import Definition
from domain.measure import Measure
from domain.values import Amount
from service.plan_file.parsed import MeasureSpec
from service.plan_file.problems import Problem
from service.plan_file.steps import CommentaryStep, Step, amount_text


def compare_definition(spec: MeasureSpec, recorded: Measure, problems: list[Problem]) -> None:
    """A recorded measure's theme and first definition must be the file's; a change is a redefinition."""
    where = spec.where
    if recorded.theme_code != spec.theme_code:
        message = f"measure {spec.number} is already recorded in theme {recorded.theme_code}"
        problems.append(Problem(where.location, where.path, spec.theme_code, message))
    first = recorded.definitions[0][0]
    for name in Definition.__dataclass_fields__:
        mine, theirs = getattr(spec.definition, name), getattr(first, name)
        if mine != theirs:
            message = (
                f"measure {spec.number} is already recorded with {name} {_plain(theirs)};"
                f" the file says {_plain(mine)}: add a redefinition to the file instead"
            )
            problems.append(Problem(where.location, f"{where.path}.{name}", _plain(mine), message))


def compare_lengths(spec: MeasureSpec, recorded: Measure, problems: list[Problem]) -> None:
    """A series the file gives must not have more recorded than the file lists."""
    last: dict[tuple[object, ...], Step] = {}
    counts: dict[tuple[object, ...], int] = {("definition",): 1}
    for step in spec.steps:
        if not isinstance(step, CommentaryStep):
            last[step.family] = step
            counts[step.family] = max(counts.get(step.family, 0), step.index + 1)
    for family, count in counts.items():
        kind = family[0]
        latest = last.get(family)
        # A file with no redefinition still gives the first definition, with the measure.
        held = len(latest.series(recorded)) if latest else len(recorded.definitions)
        if held > count:
            where = latest.where if latest else spec.where
            subject = " ".join(str(part) for part in family[1:]) or "definition"
            message = (
                f"measure {spec.number} has {held} {kind} record(s) for {subject} but the file lists"
                f" {count}: add the later ones to the file"
            )
            problems.append(Problem(where.location, where.path, None, message))


def difference(number: str, step: Step, found: tuple[object, ...], wanted: tuple[object, ...] | None) -> Problem:
    """The problem with a step whose place the ledger already holds otherwise: each field that differs."""
    wanted = wanted or ()
    parts = []
    for name, theirs, mine in zip(step.fields, found, wanted, strict=False):
        if theirs != mine:
            label = "" if name in ("amount", "definition") else f"{name} "
            parts.append(f"{label}recorded as {_plain(theirs)}; the file says {_plain(mine)}")
    message = f"{step.subject(number)} is already {', and '.join(parts)}: {step.hint}"
    return Problem(step.where.location, step.where.path, _plain(wanted[0]) if wanted else None, message)


def _plain(value: object) -> str:
    if isinstance(value, Amount):
        return amount_text(value)
    if isinstance(value, Definition):
        keys = ", ".join(c.key for c in value.components)
        return (
            f"{value.title!r} ({value.direction.value}, {value.basis.value}, tolerance {value.tolerance},"
            f" unit {value.unit!r}, components {keys})"
        )
    if isinstance(value, tuple):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    return "none" if value is None else str(value)

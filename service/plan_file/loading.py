"""`load_plan_file`: read a whole plan file and check it, writing nothing.

Every value goes through the domain's own parsers, and every step is applied
to a plan and measures held in memory, so a file with any problem is refused
whole, every problem listed with its `file:line` and path.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from domain.errors import DomainError
from domain.measure import Measure
from domain.plan import Plan
from domain.rules import DEFAULT_DISCREPANCY_THRESHOLD
from domain.values import MAX_LABEL, Status, optional_decimal, parse_enum, required_text
from service.plan_file.cycle import in_recording_order, read_cycle, read_owners, read_returns
from service.plan_file.cycle_check import check_cycle
from service.plan_file.definitions import (
    DEFINITION_KEYS,
    OPTIONAL_DEFINITION_KEYS,
    read_definition,
    read_redefinition,
    schedule,
)
from service.plan_file.lines import Reader, compose, stripped
from service.plan_file.parsed import FORMAT, MeasureSpec, PlanFile, StatusSpec, ThemeSpec
from service.plan_file.problems import PlanFileError, Problem, read_text
from service.plan_file.steps import CommentaryStep, Step

CHECKER = "plan-file-check"  # the actor of the in-memory aggregates a file is checked on


def load_plan_file(path: str | Path) -> PlanFile:
    """Read and check a whole plan file; raise PlanFileError listing every problem.

    Nothing is written: every value goes through the domain's parsers, and every
    step is applied to a plan and measures held in memory.
    """
    path = Path(path)
    root = compose(read_text(path, "plan file", PlanFileError), str(path))
    reader = Reader(str(path))
    plan_file = _read_file(reader, root)
    if reader.problems or plan_file is None:
        raise PlanFileError(reader.problems)
    return plan_file


def _read_file(r: Reader, root: yaml.Node) -> PlanFile | None:
    top = r.mapping(root, "", ("format", "partnership", "plan", "themes"), ("cycle",))
    if top is None:
        return None
    if "format" in top and (found := r.scalar(top["format"], "format")) != FORMAT:
        r.problem(top["format"], "format", found, f"must be {FORMAT!r}, the only format this version reads")
        return None
    plan = _read_plan(r, root, top)
    themes: list[ThemeSpec] = []
    measures: list[MeasureSpec] = []
    numbers: dict[str, str] = {}
    for ti, node in enumerate(r.sequence(top.get("themes"), "themes")):
        path = f"themes[{ti}]"
        fields = r.mapping(node, path, ("code", "title"), ("measures",))
        if fields is None:
            continue
        code = stripped(r.scalar(fields.get("code"), f"{path}.code"))
        title = r.scalar(fields.get("title"), f"{path}.title")
        if plan is not None:
            before = len(plan.themes)
            r.check(node, path, plan.add_theme, code=code, title=title, actor=CHECKER)
            if len(plan.themes) > before:
                themes.append(ThemeSpec(plan.themes[-1].code, plan.themes[-1].title, r.where(node, path)))
        for mi, measure_node in enumerate(r.sequence(fields.get("measures"), f"{path}.measures")):
            spec = _read_measure(r, measure_node, f"{path}.measures[{mi}]", code, plan, numbers)
            if spec is not None:
                measures.append(spec)
    cycle = read_cycle(r, top.get("cycle"), "cycle")
    if plan is None:
        return None
    check_cycle(r, plan, cycle, measures, CHECKER)
    return PlanFile(r.name, plan, r.where(top.get("plan", root), "plan"), tuple(themes), tuple(measures), tuple(cycle))


def _read_plan(r: Reader, root: yaml.Node, top: dict[str, yaml.Node]) -> Plan | None:
    partnership = r.scalar(top.get("partnership"), "partnership")
    named = r.check(root, "", required_text, partnership, "partnership", limit=MAX_LABEL)
    node = top.get("plan")
    fields = r.mapping(node, "plan", ("title", "year", "period"), ("discrepancy_threshold",))
    if node is None or fields is None or named is None:
        return None
    period = r.mapping(fields.get("period"), "plan.period", ("start", "end")) or {}
    start, end = (r.date(period.get(key), f"plan.period.{key}") for key in ("start", "end"))
    raw = r.scalar(fields.get("discrepancy_threshold"), "plan.discrepancy_threshold")
    threshold = r.check(node, "plan", optional_decimal, raw, "discrepancy_threshold")
    if start is None or end is None:
        return None
    return r.check(
        node,
        "plan",
        Plan.create,
        partnership=partnership,
        title=r.scalar(fields.get("title"), "plan.title"),
        year=r.scalar(fields.get("year"), "plan.year"),
        period_start=start,
        period_end=end,
        discrepancy_threshold=DEFAULT_DISCREPANCY_THRESHOLD if threshold is None else threshold,
        actor=CHECKER,
    )


def _read_measure(
    r: Reader,
    node: yaml.Node,
    path: str,
    theme_code: str,
    plan: Plan | None,
    numbers: dict[str, str],
) -> MeasureSpec | None:
    keys = ("redefinitions", "commentary", "status", "owners", "returns", *OPTIONAL_DEFINITION_KEYS)
    fields = r.mapping(node, path, ("number", *DEFINITION_KEYS), keys)
    if fields is None:
        return None
    raw_number = r.scalar(fields.get("number"), f"{path}.number")
    number = r.check(node, path, required_text, raw_number, "number", limit=40)
    where = r.where(node, path)
    if number is not None:
        if number in numbers:
            message = f"measure {number} is already given at {numbers[number]}"
            r.problem(fields["number"], f"{path}.number", number, message)
        numbers.setdefault(number, where.location)
    definitions = [read_definition(r, node, fields, path, 0, None)]
    for i, redefinition in enumerate(r.sequence(fields.get("redefinitions"), f"{path}.redefinitions")):
        spec = read_redefinition(r, redefinition, f"{path}.redefinitions[{i}]", definitions[-1].position)
        if spec is not None:
            definitions.append(spec)
    commentary = [
        CommentaryStep(r.where(n, p), q, r.scalar(n, p))
        for q, n, p in r.quarters(fields.get("commentary"), f"{path}.commentary")
    ]
    statuses = _read_statuses(r, fields.get("status"), f"{path}.status")
    owners = read_owners(r, fields.get("owners"), f"{path}.owners")
    returns = read_returns(r, fields.get("returns"), f"{path}.returns")
    steps = in_recording_order(owners + schedule(r, definitions) + commentary + returns)
    initial = definitions[0].definition
    if number is None or plan is None or initial is None or any(d.definition is None for d in definitions):
        return None
    expected = r.check(
        node,
        path,
        Measure.define,
        plan_id=plan.id,
        theme_code=theme_code,
        number=number,
        definition=initial,
        discrepancy_threshold=plan.discrepancy_threshold,
        actor=CHECKER,
    )
    if expected is None:
        return None
    _check_steps(r, expected, steps)
    return MeasureSpec(number, theme_code, initial, tuple(steps), tuple(statuses), expected, where)


def _check_steps(r: Reader, measure: Measure, steps: list[Step]) -> None:
    """Apply each step in memory: the domain's own checks see the file before the ledger does."""
    broken: set[tuple[object, ...]] = set()
    for step in steps:
        # After a refused step the rest of its series would fail for that reason alone.
        if step.family in broken:
            continue
        try:
            step.apply(measure, CHECKER)
        except DomainError as e:
            broken.add(step.family)
            if step.where.node is None:
                r.problems.append(Problem(step.where.location, step.where.path, e.value, e.message))
            else:
                r.refused(step.where.node, step.where.path, e)


def _read_statuses(r: Reader, node: yaml.Node | None, path: str) -> list[StatusSpec]:
    found: list[StatusSpec] = []
    for quarter, entry, qpath in r.quarters(node, path):
        fields = r.mapping(entry, qpath, ("status",), ("published_symbol", "reason"))
        if fields is None:
            continue
        status = r.check(entry, qpath, parse_enum, Status, r.scalar(fields.get("status"), f"{qpath}.status"), "status")
        symbol = r.scalar(fields.get("published_symbol"), f"{qpath}.published_symbol")
        reason = r.scalar(fields.get("reason"), f"{qpath}.reason")
        if status is not None:
            found.append(StatusSpec(quarter, status, symbol, reason, r.where(entry, qpath)))
    return found

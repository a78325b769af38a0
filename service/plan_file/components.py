"""A component's series in a plan file: its baseline and resets, and each quarter's figure and revisions.

Every entry becomes a step (SetBaseline, FigureStep); a series is kept only
while unbroken, so that one refused entry is not reported again through the
entries that follow it.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from domain.values import Amount, Quarter, optional_decimal, parse_amount
from service.plan_file.lines import NULL_TAG, Reader, Scalar, stripped
from service.plan_file.steps import FigureStep, SetBaseline

AMOUNT_KEYS = ("value", "numerator", "denominator")
FIGURE_KEYS = (*AMOUNT_KEYS, "reported_change", "commentary", "unavailable")
BASELINE_KEYS = (*AMOUNT_KEYS, "period", "profile", "note")


@dataclass
class ComponentData:
    """A component's data as written under the definition that introduces it."""

    key: str
    baselines: list[SetBaseline]
    figures: dict[Quarter, list[FigureStep]]


def read_component(r: Reader, fields: dict[str, yaml.Node], path: str, key: str) -> ComponentData:
    """The baseline, resets and figures given under a component's mapping."""
    baselines: list[SetBaseline] = []
    if "baseline" in fields:
        found = _read_baseline(r, fields["baseline"], f"{path}.baseline", key, 0, reset=False)
        baselines += [found] if found else []
    for i, node in enumerate(r.sequence(fields.get("baseline_resets"), f"{path}.baseline_resets")):
        found = _read_baseline(r, node, f"{path}.baseline_resets[{i}]", key, len(baselines), reset=True)
        baselines += [found] if found else []
    figures: dict[Quarter, list[FigureStep]] = {}
    for quarter, node, qpath in r.quarters(fields.get("figures"), f"{path}.figures"):
        figures[quarter] = _read_figures(r, node, qpath, key, quarter)
    return ComponentData(key, baselines, figures)


def _read_baseline(r: Reader, node: yaml.Node, path: str, key: str, index: int, reset: bool) -> SetBaseline | None:
    if isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG and not reset:
        return None  # `baseline: null` says there is none
    fields = r.mapping(node, path, ("reason",) if reset else (), BASELINE_KEYS)
    if fields is None:
        return None
    amount = _amount(r, node, fields, path)
    profile = None
    if "profile" in fields:
        items = r.sequence(fields["profile"], f"{path}.profile")
        profile = [r.scalar(n, f"{path}.profile[{i}]") for i, n in enumerate(items)] or None
    reason = r.scalar(fields.get("reason"), f"{path}.reason") if reset else None
    if amount is None or (reset and reason is None):
        return None

    def text(name: str) -> Scalar:
        return r.scalar(fields.get(name), f"{path}.{name}")

    return SetBaseline(r.where(node, path), key, index, amount, text("period"), profile, text("note"), reason)


def _amount(r: Reader, node: yaml.Node, fields: dict[str, yaml.Node], path: str) -> Amount | None:
    raws = [r.scalar(fields.get(key), f"{path}.{key}") for key in AMOUNT_KEYS]
    return r.check(node, path, parse_amount, *raws, "value")


def _read_figures(r: Reader, node: yaml.Node, path: str, key: str, quarter: Quarter) -> list[FigureStep]:
    fields = r.mapping(node, path, (), (*FIGURE_KEYS, "revisions"))
    if fields is None:
        return []
    head = _read_figure(r, node, fields, path, key, quarter, 0, available=False)
    steps = [head] if head else []
    for i, entry in enumerate(r.sequence(fields.get("revisions"), f"{path}.revisions")):
        epath = f"{path}.revisions[{i}]"
        efields = r.mapping(entry, epath, (), (*FIGURE_KEYS, "reason"))
        # Read every entry for its problems, but a series is only kept while unbroken.
        available = bool(steps) and steps[-1].amount is not None
        step = _read_figure(r, entry, efields, epath, key, quarter, i + 1, available) if efields else None
        if step is not None and len(steps) == i + 1:
            steps.append(step)
    return steps


def _read_figure(
    r: Reader,
    node: yaml.Node,
    fields: dict[str, yaml.Node],
    path: str,
    key: str,
    quarter: Quarter,
    index: int,
    available: bool,
) -> FigureStep | None:
    """One entry of a quarter; `available` says whether the entry before it left a figure."""
    where = r.where(node, path)
    if "unavailable" in fields:
        clash = [k for k in fields if k not in ("unavailable", "revisions")]
        if clash:
            r.problem(node, f"{path}.{clash[0]}", None, "an entry marked unavailable has no figure: give one or other")
            return None
        why = r.scalar(fields["unavailable"], f"{path}.unavailable")
        if not stripped(why):
            r.problem(fields["unavailable"], f"{path}.unavailable", why, "say why the figure is unavailable")
            return None
        return FigureStep(where, key, quarter, index, None, None, None, None, why)
    amount = _amount(r, node, fields, path)
    raw_change = r.scalar(fields.get("reported_change"), f"{path}.reported_change")
    change = r.check(node, path, optional_decimal, raw_change, "reported_change")
    reason = r.scalar(fields.get("reason"), f"{path}.reason")
    if available and not stripped(reason):
        r.problem(node, f"{path}.reason", None, "a revision needs the reason it was made")
        return None
    if amount is None or (raw_change is not None and change is None):
        return None
    commentary = r.scalar(fields.get("commentary"), f"{path}.commentary")
    return FigureStep(where, key, quarter, index, amount, change, commentary, reason, None)

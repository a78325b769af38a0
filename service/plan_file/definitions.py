"""A measure's definitions in a plan file, and the order its steps are recorded in.

The first definition is the measure's own mapping; each redefinition says
where it falls among the quarters' figures (`before_quarter`/`after_quarter`),
and the components it introduces carry their data with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from domain.definition import Definition, parse_definition
from domain.values import Basis, Direction, Quarter, parse_enum
from service.plan_file.components import ComponentData, read_component
from service.plan_file.lines import Reader, Scalar, Where, join_path, stripped
from service.plan_file.problems import Problem
from service.plan_file.steps import Redefine, Step

DEFINITION_KEYS = ("title", "direction", "basis", "components")
OPTIONAL_DEFINITION_KEYS = ("description", "tolerance", "unit")


@dataclass
class DefinitionSpec:
    """A definition as the file gives it (None where it was refused), and where it falls."""

    definition: Definition | None
    reason: Scalar
    position: int
    where: Where
    components: list[ComponentData]


def read_definition(
    r: Reader,
    node: yaml.Node,
    fields: dict[str, yaml.Node],
    path: str,
    position: int,
    reason: Scalar,
) -> DefinitionSpec:
    """A definition from a measure's (or a redefinition's) mapping, with its components' data."""

    def value(key: str) -> Scalar:
        return r.scalar(fields.get(key), join_path(path, key))

    direction = r.check(node, path, parse_enum, Direction, value("direction"), "direction")
    basis = r.check(node, path, parse_enum, Basis, value("basis"), "basis")
    pairs: list[tuple[object, object]] = []
    components: list[ComponentData] = []
    for ci, component in enumerate(r.sequence(fields.get("components"), join_path(path, "components"))):
        cpath = join_path(path, f"components[{ci}]")
        cfields = r.mapping(component, cpath, ("key", "label"), ("baseline", "baseline_resets", "figures")) or {}
        key = r.scalar(cfields.get("key"), f"{cpath}.key")
        pairs.append((key, r.scalar(cfields.get("label"), f"{cpath}.label")))
        components.append(read_component(r, cfields, cpath, stripped(key)))
    definition = None
    if direction is not None and basis is not None:
        definition = r.check(
            node,
            path,
            parse_definition,
            title=value("title"),
            description=value("description"),
            direction=direction,
            basis=basis,
            tolerance=value("tolerance"),
            unit=value("unit"),
            components=pairs,
        )
    return DefinitionSpec(definition, reason, position, r.where(node, path), components)


def read_redefinition(r: Reader, node: yaml.Node, path: str, previous: int) -> DefinitionSpec | None:
    """A `redefinitions` entry; `previous` is the position of the one listed before it."""
    keys = (*OPTIONAL_DEFINITION_KEYS, "before_quarter", "after_quarter")
    fields = r.mapping(node, path, (*DEFINITION_KEYS, "reason"), keys)
    if fields is None:
        return None
    position = 0
    for key, offset in (("before_quarter", -1), ("after_quarter", 0)):
        if key in fields:
            raw = r.scalar(fields[key], f"{path}.{key}")
            quarter = r.check(fields[key], f"{path}.{key}", Quarter.parse, raw, key)
            position = quarter.number + offset if quarter else previous
    if "before_quarter" in fields and "after_quarter" in fields:
        r.problem(
            fields["after_quarter"], f"{path}.after_quarter", None, "give before_quarter or after_quarter, not both"
        )
    if position < previous:
        r.problem(node, path, None, "comes before the redefinition listed above it: list them in the order they apply")
    reason = r.scalar(fields.get("reason"), f"{path}.reason")
    return read_definition(r, node, fields, path, position, reason)


def schedule(r: Reader, definitions: list[DefinitionSpec]) -> list[Step]:
    """The order steps are recorded in: baselines, then quarter by quarter, redefinitions between."""
    steps: list[Step] = []
    owners: dict[str, ComponentData] = {}
    introduced_at: dict[str, int] = {}

    def introduce(spec: DefinitionSpec) -> None:
        mine = {c.key for c in spec.components if c.key not in owners}
        for component in spec.components:
            has_data = bool(component.baselines or component.figures)
            if component.key in owners:
                # A key twice in one definition is reported by parse_definition.
                if has_data and component.key not in mine:
                    where = spec.where
                    message = f"component {component.key!r} keeps its data under the definition that introduced it"
                    r.problems.append(Problem(where.location, where.path, None, message))
                continue
            owners[component.key] = component
            introduced_at[component.key] = spec.position
            steps.extend(component.baselines)

    introduce(definitions[0])
    for position in range(5):
        for i, spec in enumerate(definitions[1:], 1):
            if spec.position == position and spec.definition is not None:
                steps.append(Redefine(spec.where, position, i, spec.definition, spec.reason))
                introduce(spec)
        if position < 4:
            quarter = list(Quarter)[position]
            for component in owners.values():
                steps.extend(component.figures.get(quarter, []))
    for key, component in owners.items():
        for quarter, figures in component.figures.items():
            if quarter.number <= introduced_at[key] and figures:
                where = figures[0].where
                message = f"component {key!r} is introduced by a redefinition after the {quarter.value} figures"
                r.problems.append(Problem(where.location, where.path, None, message))
    return steps

"""Compiled reads: `plan(id)` with a plain selection below it, answered by one SQL statement that builds its JSON.

A dashboard is thousands of fields over a few hundred rows. Even completed as
plain values (fast_fields.py, read_ahead.py) each row is fetched, decoded into
Python objects, converted field by field and encoded again; PostgreSQL builds
the same JSON from the same rows (`json_agg`, `json_build_object`) in a
fraction of that. So, as PostGraphile and Hasura do, a `plan(id)` whose
selection below reads only plain read-model columns and the plan's themes,
measures, components, baselines, figures and quarters is compiled, once per
document, to one statement; its JSON is handed to graphql-core as the field's
completed value, and set into the response as it is (service/ws.py `RawJSON`).

Each value is formatted as the schema's scalars format it (scalars.py): a
Decimal as plain digits with no trailing zeros, a change rounded half-up to one
place, a moment in UTC with microseconds only where not zero, enums by name
(the read model stores their names). Anything else falls back to the resolvers,
untouched: arguments or directives below the root field, a field not listed
here (ids of parts, history, owners, returns, publications…), a response key
given twice, `asOf` or `publication`, a plan that is not there. The access
check is the resolver's own, on the plan's partnership.
tests/e2e/test_speedups.py compares answers with and without.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
)

from service.auth.policy import Action
from service.schema.errors import parse_id
from service.schema.targets import Target
from service.ws import RawJSON

CURRENT = "valid_to IS NULL"
# json_build_object takes at most 100 arguments: 50 fields.
MAX_FIELDS = 50


def decimal_text(column: str) -> str:
    """SQL for a numeric column as the Decimal scalar writes it."""
    return f"trim_scale({column})::text"


def moment_text(column: str) -> str:
    """SQL for a timestamptz column as the DateTime scalar writes it."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    fraction = f"CASE WHEN to_char({utc}, 'US') = '000000' THEN '' ELSE to_char({utc}, '.US') END"
    # NULL stays NULL: to_char gives NULL, and so does || with it.
    return f"""to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS') || {fraction} || '+00:00'"""


def _date(column: str) -> str:
    return f"to_char({column}, 'YYYY-MM-DD')"


def _list(value: str, rows: str, order: str) -> str:
    """A JSON array of `value` over `rows` (FROM ... WHERE ...), `[]` when there are none."""
    return f"(SELECT coalesce(json_agg({value} ORDER BY {order}), '[]') FROM {rows})"


# How each column reads: a SQL expression of the row's alias (`{a}`).
def _text(column: str) -> str:
    return "{a}." + column


def _number(column: str) -> str:
    return decimal_text("{a}." + column)


def _at(column: str) -> str:
    return moment_text("{a}." + column)


# A field below an object: its SQL given the object's alias and, for relations, the compiled child object
# (an expression of the child's alias) or None for plain columns.
Relation = Callable[[str, Callable[[str], str]], str]


@dataclass(frozen=True)
class ObjectType:
    """A GraphQL type whose fields read columns of one row (alias `{a}`), and its relations to others."""

    columns: Mapping[str, str]
    relations: Mapping[str, tuple[str, Relation]]


def _of_component(child: str) -> str:
    return f"{child}.measure_id = {{a}}.measure_id AND {child}.component = {{a}}.key AND {child}.{CURRENT}"


def _object_or_null(condition: str) -> Relation:
    return lambda a, child: f"CASE WHEN {condition.format(a=a)} THEN {child(a)} ELSE NULL END"


_FIGURE_COLUMNS = {
    "component": _text("component"),
    "quarter": _text("quarter"),
    "value": _number("value"),
    "numerator": _number("numerator"),
    "denominator": _number("denominator"),
    "available": _text("available"),
    "unavailableReason": _text("unavailable_reason"),
    "measured": _number("measured"),
    "comparisonValue": _number("comparison_value"),
    "changeExact": _number("change"),
    "status": _text("status"),
    "rule": _text("rule"),
    "reportedChange": _number("reported_change"),
    "discrepancy": _text("discrepancy"),
    "discrepancyReason": _text("discrepancy_reason"),
    "commentary": _text("commentary"),
    "revision": _text("revision"),
    "reason": _text("reason"),
    "recordedAt": _at("recorded_at"),
    "recordedBy": _text("recorded_by"),
    "change": decimal_text("round({a}.change, 1)"),
    "rate": _number("rate"),
    "progress": _number("progress"),
}

TYPES: dict[str, ObjectType] = {
    "Plan": ObjectType(
        columns={
            "id": _text("id"),
            "partnership": _text("partnership"),
            "title": _text("title"),
            "year": _text("year"),
            "discrepancyThreshold": _number("discrepancy_threshold"),
            "version": _text("version"),
            "createdAt": _at("created_at"),
            "createdBy": _text("created_by"),
            "modifiedAt": _at("modified_at"),
        },
        relations={
            "period": ("Period", lambda a, child: child(a)),
            "themes": (
                "Theme",
                lambda a, child: _list(child("t"), f"themes t WHERE t.plan_id = {a}.id AND t.{CURRENT}", "t.ordinal"),
            ),
            "measures": (
                "Measure",
                lambda a, child: _list(
                    child("m"), f"measures m WHERE m.plan_id = {a}.id AND m.{CURRENT}", "m.sort_key"
                ),
            ),
        },
    ),
    "Period": ObjectType(columns={"start": _date("{a}.period_start"), "end": _date("{a}.period_end")}, relations={}),
    "Theme": ObjectType(
        columns={"planId": _text("plan_id"), "code": _text("code"), "title": _text("title")}, relations={}
    ),
    "Measure": ObjectType(
        columns={
            "id": _text("id"),
            "planId": _text("plan_id"),
            "themeCode": _text("theme_code"),
            "number": _text("number"),
            "title": _text("title"),
            "description": _text("description"),
            "direction": _text("direction"),
            "basis": _text("basis"),
            "tolerance": _number("tolerance"),
            "unit": _text("unit"),
            "status": _text("status"),
            "version": _text("version"),
            "modifiedAt": _at("modified_at"),
        },
        relations={
            "components": (
                "Component",
                lambda a, child: _list(
                    child("c"), f"components c WHERE c.measure_id = {a}.id AND c.{CURRENT}", "c.ordinal"
                ),
            ),
            "quarters": (
                "QuarterResult",
                lambda a, child: _list(
                    child("q"), f"quarter_results q WHERE q.measure_id = {a}.id AND q.{CURRENT}", "q.quarter"
                ),
            ),
        },
    ),
    "Component": ObjectType(
        columns={"key": _text("key"), "label": _text("label")},
        relations={
            "baseline": (
                "Baseline",
                lambda a, child: (
                    f"(SELECT {child('b')} FROM baselines b WHERE {_of_component('b').format(a=a)}"
                    " ORDER BY b.seq DESC LIMIT 1)"
                ),
            ),
            "baselineHistory": (
                "Baseline",
                lambda a, child: _list(child("b"), f"baselines b WHERE {_of_component('b').format(a=a)}", "b.seq"),
            ),
            "figures": (
                "Figure",
                lambda a, child: _list(child("f"), f"figures f WHERE {_of_component('f').format(a=a)}", "f.quarter"),
            ),
        },
    ),
    "Baseline": ObjectType(
        columns={
            "value": _number("value"),
            "numerator": _number("numerator"),
            "denominator": _number("denominator"),
            "period": _text("period"),
            "note": _text("note"),
            "isReset": _text("is_reset"),
            "reason": _text("reason"),
            "recordedAt": _at("recorded_at"),
            "recordedBy": _text("recorded_by"),
            "discrepancy": _text("discrepancy"),
            "discrepancyReason": _text("discrepancy_reason"),
            "rate": _number("rate"),
        },
        relations={},
    ),
    "Figure": ObjectType(
        columns=_FIGURE_COLUMNS,
        relations={
            # The baseline it was compared with: its component's `baseline_seq`th (NULL: none).
            "baseline": (
                "Baseline",
                lambda a, child: (
                    f"(SELECT {child('b')} FROM baselines b WHERE b.measure_id = {a}.measure_id"
                    f" AND b.component = {a}.component AND b.seq = {a}.baseline_seq AND b.{CURRENT})"
                ),
            ),
        },
    ),
    "QuarterResult": ObjectType(
        columns={
            "quarter": _text("quarter"),
            "status": _text("status"),
            "computedStatus": _text("computed_status"),
            "commentary": _text("commentary"),
            "commentaryRecordedAt": _at("commentary_at"),
            "commentaryRecordedBy": _text("commentary_by"),
        },
        relations={
            "override": ("Override", _object_or_null("{a}.override_status IS NOT NULL")),
            "components": (
                "ComponentResult",
                # Each component of the quarter's measure, with its figure for that quarter (null if none).
                lambda a, child: _list(
                    child("c"), f"components c WHERE c.measure_id = {a}.measure_id AND c.{CURRENT}", "c.ordinal"
                ).replace("{q}", a),
            ),
        },
    ),
    "Override": ObjectType(
        columns={
            "status": _text("override_status"),
            "reason": _text("override_reason"),
            "recordedBy": _text("override_by"),
            "recordedAt": _at("override_at"),
        },
        relations={},
    ),
    # A component (alias c) of a quarter: its figure is read with the quarter's alias, `{q}`, filled in above.
    "ComponentResult": ObjectType(
        columns={"key": _text("key")},
        relations={
            "figure": (
                "Figure",
                lambda a, child: (
                    f"(SELECT {child('f')} FROM figures f WHERE {_of_component('f').format(a=a)}"
                    " AND f.quarter = {q}.quarter)"
                ),
            ),
        },
    ),
}


def _fields(selection_set: SelectionSetNode | None, fragments: Mapping[str, Any], type_name: str) -> Iterator[Any]:
    """The selection's fields, through fragments on this very type; a node that is neither yields itself."""
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, InlineFragmentNode | FragmentSpreadNode):
            fragment = fragments.get(selection.name.value) if isinstance(selection, FragmentSpreadNode) else selection
            condition = getattr(fragment, "type_condition", None)
            if fragment is None or selection.directives or (condition and condition.name.value != type_name):
                yield selection  # not compiled
                continue
            yield from _fields(fragment.selection_set, fragments, type_name)
        else:
            yield selection


def compile_object(
    type_name: str, selection_set: SelectionSetNode | None, fragments: Mapping[str, Any]
) -> Callable[[str], str] | None:
    """The SQL building one JSON object of `type_name` from a row aliased as the argument; None if it can't."""
    kind = TYPES.get(type_name)
    if kind is None:
        return None
    parts: list[tuple[str, str | Callable[[str], str], tuple[str, Relation] | None]] = []
    keys: set[str] = set()
    for node in _fields(selection_set, fragments, type_name):
        if not isinstance(node, FieldNode) or node.directives or node.arguments:
            return None
        key, name = (node.alias or node.name).value, node.name.value
        if key in keys:
            return None  # merged by graphql-core; left to it
        keys.add(key)
        if name == "__typename":
            parts.append((key, f"'{type_name}'", None))
        elif name in kind.columns and node.selection_set is None:
            parts.append((key, kind.columns[name], None))
        elif name in kind.relations:
            child_type, relation = kind.relations[name]
            child = compile_object(child_type, node.selection_set, fragments)
            if child is None:
                return None
            parts.append((key, child, (child_type, relation)))
        else:
            return None
    if not parts or len(parts) > MAX_FIELDS:
        return None

    def build(alias: str) -> str:
        values = []
        for key, value, relation in parts:
            if relation is None:
                assert isinstance(value, str)
                values.append(f"'{key}', {value.format(a=alias)}")
            else:
                assert callable(value)
                values.append(f"'{key}', {relation[1](alias, value)}")
        return "json_build_object(" + ", ".join(values) + ")"

    return build


PLAN = "SELECT p.partnership, {}::text FROM plans p WHERE p.id = $1 AND p." + CURRENT  # noqa: S608 - our own SQL
# id(the plan field's node) -> (that node, its statement or None); the parser cache keeps a document's nodes.
_STATEMENTS: dict[int, tuple[FieldNode, str | None]] = {}
_STATEMENTS_SIZE = 256


@dataclass(frozen=True, slots=True)
class Compiled:
    """A field's value completed by PostgreSQL: its JSON text."""

    text: str

    def value(self) -> RawJSON:
        """The completed value: JSON set into the response as it is (service/ws.py `dumps`), never parsed."""
        return RawJSON(self.text)


def statement(info: GraphQLResolveInfo) -> str | None:
    """The statement answering this `plan` field, or None if its selection is not compiled."""
    if len(info.field_nodes) != 1:
        return None
    node = info.field_nodes[0]
    found = _STATEMENTS.get(id(node))
    if found is not None and found[0] is node:
        return found[1]
    build = None if node.directives else compile_object("Plan", node.selection_set, info.fragments)
    sql = None if build is None else PLAN.format(build("p"))
    if len(_STATEMENTS) >= _STATEMENTS_SIZE:
        _STATEMENTS.clear()
    _STATEMENTS[id(node)] = (node, sql)
    return sql


def install_compiled_reads(schema: Any) -> int:
    """Answer `Query.plan` by a compiled statement where its selection allows; returns the fields wrapped."""
    query: GraphQLObjectType = schema._schema.query_type
    field = query.fields.get("plan")
    if field is None or field.resolve is None:
        return 0
    for name, kind in TYPES.items():
        graphql_type = schema._schema.type_map.get(name)
        assert isinstance(graphql_type, GraphQLObjectType), name
        missing = {*kind.columns, *kind.relations} - set(graphql_type.fields)
        assert not missing, f"{name} has no {missing}"
    field.resolve = _compiled(field.resolve)
    return 1


def _compiled(resolve: Callable[..., Any]) -> Callable[..., Any]:
    def resolve_compiled(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        sql = None if any(v is not None for k, v in args.items() if k != "id") else statement(info)
        if sql is None:
            return resolve(source, info, **args)
        return _read(resolve, sql, source, info, args)

    return resolve_compiled


async def _read(resolve: Callable[..., Any], sql: str, source: Any, info: GraphQLResolveInfo, args: Any) -> Any:
    plan_id = parse_id(args["id"], "id")
    # The pool the plan's loaders read from, so that a read goes wherever theirs would.
    row = await info.context.loaders.at(None).pool.fetchrow(sql, plan_id)
    if row is None:  # no such plan: the resolver says what (null, or a refusal)
        found = resolve(source, info, **args)
        return await found if info.is_awaitable(found) else found
    info.context.require(Action.READ_CURRENT, Target(row[0]))
    return Compiled(row[1])

"""Plan files in (docs/plan-file.md): check the whole file, then record only what is new.

`load_plan_file` reads the YAML with its line numbers, checks every value with
the domain's own parsers, and checks every step by applying it to aggregates
held in memory, so a file with any problem is refused whole, every problem
listed with its `file:line` and path. `import_plan` compares the file with what
the ledger has recorded and records only what is missing, in file order: a
second import of the same file records nothing.

Beyond docs/plan-file.md, so that an export can say all that a ledger holds:
- a quarter may be only `{unavailable: why}`, and a `revisions` entry may be
  `{unavailable: why}` (marked unavailable later) or, straight after such a
  mark, a figure without a reason (the figure arriving late is a submission);
- a redefinition may say `after_quarter: Qn` instead of `before_quarter`;
  with neither it is recorded before any figure;
- a component that a redefinition introduces carries its own `baseline`,
  `baseline_resets` and `figures` there.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import yaml
from eventsourcing.application import AggregateNotFoundError

from domain.errors import DomainError
from domain.ledger import Ledger, Request, Written
from domain.measure import Definition, Measure, parse_definition
from domain.plan import Plan
from domain.rules import DEFAULT_DISCREPANCY_THRESHOLD
from domain.values import (
    MAX_LABEL,
    Amount,
    Basis,
    Direction,
    Quarter,
    Status,
    optional_decimal,
    parse_amount,
    parse_enum,
    required_text,
)
from domain.view import measure_view

FORMAT = "measure-ledger/plan@1"
MAX_BYTES = 20 * 1024 * 1024
CHECKER = "plan-file-check"  # the actor of the in-memory aggregates a file is checked on
NULL_TAG = "tag:yaml.org,2002:null"
AMOUNT_KEYS = ("value", "numerator", "denominator")
FIGURE_KEYS = (*AMOUNT_KEYS, "reported_change", "commentary", "unavailable")
BASELINE_KEYS = (*AMOUNT_KEYS, "period", "profile", "note")
DEFINITION_KEYS = ("title", "direction", "basis", "components")
OPTIONAL_DEFINITION_KEYS = ("description", "tolerance", "unit")
# The domain names some fields as the API spells them; the file spells them in snake case.
FILE_FIELD = {"discrepancyThreshold": "discrepancy_threshold", "reportedChange": "reported_change"}

T = TypeVar("T")
Scalar = str | None

# -- problems ----------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file: where, which field, what it holds, what was expected."""

    location: str
    field: str
    value: object
    expected: str

    def __str__(self) -> str:
        found = "" if self.value is None else f" (found {show(self.value)})"
        return f"{self.location}: {self.field or 'file'}: {self.expected}{found}"


class ProblemsFound(Exception):
    """An input file was refused and nothing was recorded; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        listed = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"refused, nothing recorded: {len(self.problems)} problem(s)\n{listed}")


class PlanFileError(ProblemsFound):
    """A plan file that cannot be imported."""


def show(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_text(path: Path, what: str, error: type[ProblemsFound]) -> str:
    """The file as text; refused unread when over MAX_BYTES, and refused when empty or not UTF-8."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size <= MAX_BYTES:
            with path.open("rb") as stream:
                # Bounded, in case the file grows between stat and read.
                data = stream.read(MAX_BYTES + 1)
                size = max(size, len(data))
    except OSError as e:
        raise error([Problem(name, "", None, f"cannot read the {what}: {e.strerror or e}")]) from None
    if size > MAX_BYTES:
        limit = f"{MAX_BYTES // (1024 * 1024)} MB"
        message = f"the {what} is {size / (1024 * 1024):.1f} MB; the limit is {limit}: split it"
        raise error([Problem(name, "", None, message)])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        bad = data[e.start]
        message = (
            f"the {what} must be UTF-8 text, but byte 0x{bad:02x} at offset {e.start} is not UTF-8"
            " (was it saved as Latin-1 or Windows-1252?): save it as UTF-8"
        )
        raise error([Problem(f"{name}:{line}", "", None, message)]) from None
    if not text.strip():
        raise error([Problem(name, "", None, f"the {what} is empty")])
    return text


# -- reading YAML with line numbers ------------------------------------------------


@dataclass(frozen=True)
class Where:
    """A place in the file: `file:line` and the path of keys to it."""

    location: str
    path: str
    node: yaml.Node | None = field(default=None, compare=False, repr=False)


class _MarkedLoader(yaml.SafeLoader):
    """Composes nodes, which keep their line numbers, and refuses aliases.

    An alias can make a small file expand into a huge tree when walked.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(problem="aliases (*name) are not allowed here", problem_mark=mark)
        return super().compose_node(parent, index)


def _compose(text: str, name: str) -> yaml.Node:
    loader = _MarkedLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{name}:{mark.line + 1}" if mark else name
        raise PlanFileError([Problem(where, "", None, f"not valid YAML: {e.problem or e.context}")]) from None
    except yaml.YAMLError as e:
        raise PlanFileError([Problem(name, "", None, f"not valid YAML: {e}")]) from None
    except RecursionError:
        raise PlanFileError([Problem(name, "", None, "nested too deeply to be a plan file")]) from None
    finally:
        loader.dispose()
    if node is None:
        raise PlanFileError([Problem(name, "", None, "the plan file is empty (only comments)")])
    return node


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path and not key.startswith("[") else f"{path}{key}"


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _child(node: yaml.Node | None, relpath: str) -> yaml.Node | None:
    """The node at a path such as `components[1].key` under `node`, if the file has it."""
    for name, index in _PART.findall(relpath):
        if name and isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == name), None)
        elif index and isinstance(node, yaml.SequenceNode) and int(index) < len(node.value):
            node = node.value[int(index)]
        else:
            return None
    return node


@dataclass
class _Reader:
    """Walks the node tree, collecting every problem instead of stopping at the first."""

    name: str
    problems: list[Problem] = field(default_factory=list)
    _reported: set[str] = field(default_factory=set)

    def where(self, node: yaml.Node, path: str) -> Where:
        return Where(f"{self.name}:{node.start_mark.line + 1}", path, node)

    def problem(self, node: yaml.Node, path: str, value: object, expected: str) -> None:
        # One problem per field: a later check of a value already refused would only repeat it.
        if path in self._reported:
            return
        self._reported.add(path)
        self.problems.append(Problem(self.where(node, path).location, path, value, expected))

    def refused(self, node: yaml.Node, path: str, error: DomainError) -> None:
        """A domain refusal, placed at the field it names where the file has that field."""
        name = FILE_FIELD.get(error.field, error.field)
        self.problem(_child(node, name) or node, _join(path, name), error.value, error.message)

    def check(self, node: yaml.Node, path: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Call a domain parser; a refusal becomes a problem and the result None."""
        try:
            return call(*args, **kwargs)
        except DomainError as e:
            self.refused(node, path, e)
            return None

    def mapping(
        self, node: yaml.Node | None, path: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> dict[str, yaml.Node] | None:
        if node is None:
            return None
        known = required + optional
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, path, _raw(node), f"must be a mapping with the keys {', '.join(known)}")
            return None
        found: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            if key in found:
                self.problem(key_node, _join(path, key), None, "appears twice in the same mapping")
            elif key not in known:
                self.problem(key_node, _join(path, key), None, f"is not a key here; expected {', '.join(known)}")
            else:
                found[key] = value_node
        for key in required:
            if key not in found:
                self.problem(node, _join(path, key), None, "is required")
        return found

    def sequence(self, node: yaml.Node | None, path: str) -> list[yaml.Node]:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, path, _raw(node), "must be a list")
            return []
        return list(node.value)

    def scalar(self, node: yaml.Node | None, path: str) -> Scalar:
        """A plain value as the text written: numbers stay text until the domain reads them as Decimal."""
        if node is None:
            return None
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, path, _raw(node), "must be a single value, not a list or a mapping")
            return None
        return None if node.tag == NULL_TAG else str(node.value)

    def quarters(self, node: yaml.Node | None, path: str) -> list[tuple[Quarter, yaml.Node, str]]:
        """The entries of a mapping keyed by quarter, in file order."""
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG):
            return []
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, path, _raw(node), "must be a mapping of quarters Q1..Q4")
            return []
        found: list[tuple[Quarter, yaml.Node, str]] = []
        for key_node, value_node in node.value:
            key = str(getattr(key_node, "value", "?"))
            try:
                quarter = Quarter.parse(key)
            except DomainError as e:
                self.problem(key_node, _join(path, key), key, e.message)
                continue
            if any(q is quarter for q, _, _ in found):
                self.problem(key_node, _join(path, str(key)), None, f"{quarter.value} appears twice")
                continue
            found.append((quarter, value_node, _join(path, quarter.value)))
        return found


def _raw(node: yaml.Node) -> object:
    if isinstance(node, yaml.ScalarNode):
        return node.value
    return "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"


def _text(value: Scalar) -> str:
    return "" if value is None else value.strip()


# -- the steps of a measure --------------------------------------------------------


def amount_text(amount: Amount | None) -> str:
    """An amount as a person would write it: `995`, `13/21`, or `62 (13/21)`."""
    if amount is None:
        return "unavailable"
    fraction = f"{amount.numerator}/{amount.denominator}" if amount.is_fraction else ""
    if amount.value is None:
        return fraction
    return f"{amount.value} ({fraction})" if fraction else str(amount.value)


def _camel(verb: str) -> str:
    head, *rest = verb.split("_")
    return head + "".join(word.title() for word in rest)


class Step:
    """One thing the file says about a measure, in the order it is recorded.

    `call` names the use case and its arguments; the Measure and the Ledger
    spell each use case with the same verb (the Ledger adds the request and the
    measure's id), so one call is tried in memory and then recorded.
    """

    where: Where
    fields: tuple[str, ...] = ()  # what `entry` holds, for messages
    hint = ""  # what to do when the ledger holds something else

    @property
    def family(self) -> tuple[object, ...]:
        """The series the step adds to; `index` is its place in that series."""
        raise NotImplementedError

    @property
    def index(self) -> int:
        return 0

    def call(self) -> tuple[str, tuple[object, ...], dict[str, object]]:
        raise NotImplementedError

    def subject(self, number: str) -> str:
        raise NotImplementedError

    def detail(self) -> str:
        return ""

    def entry(self, measure: Measure) -> tuple[object, ...] | None:
        """What `measure` holds at this step's place, or None if nothing yet."""
        raise NotImplementedError

    def line(self, number: str) -> str:
        verb, _, _ = self.call()
        return " ".join(part for part in (_camel(LEDGER_VERB.get(verb, verb)), number, self.detail()) if part)

    def apply(self, measure: Measure, actor: str) -> None:
        verb, args, kwargs = self.call()
        getattr(measure, verb)(*args, **kwargs, actor=actor)

    def record(self, ledger: Ledger, req: Request, measure_id: UUID) -> Written:
        verb, args, kwargs = self.call()
        written: Written = getattr(ledger, LEDGER_VERB.get(verb, verb))(req, measure_id, *args, **kwargs)
        return written


LEDGER_VERB = {"redefine": "redefine_measure"}


@dataclass(frozen=True)
class Redefine(Step):
    where: Where
    position: int  # how many quarters' figures come before it
    number_in_series: int
    definition: Definition
    reason: Scalar
    fields = ("definition", "reason")
    hint = "add a redefinition to the file instead"

    @property
    def family(self) -> tuple[object, ...]:
        return ("definition",)

    @property
    def index(self) -> int:
        return self.number_in_series

    def call(self) -> tuple[str, tuple[object, ...], dict[str, object]]:
        return "redefine", (self.definition,), {"reason": self.reason}

    def subject(self, number: str) -> str:
        return f"redefinition {self.number_in_series} of measure {number}"

    def detail(self) -> str:
        return self.definition.title

    def entry(self, measure: Measure) -> tuple[object, ...] | None:
        if self.index >= len(measure.definitions):
            return None
        definition, stamp = measure.definitions[self.index]
        return (definition, stamp.reason)


@dataclass(frozen=True)
class SetBaseline(Step):
    """The first baseline of a component (no reason), or a reset (with its reason)."""

    where: Where
    key: str
    position: int
    amount: Amount
    period: Scalar
    profile: list[Scalar] | None
    note: Scalar
    reason: Scalar
    fields = ("amount", "period", "profile", "note", "is_reset", "reason")
    hint = "add a baseline reset to the file instead"

    @property
    def family(self) -> tuple[object, ...]:
        return ("baseline", self.key)

    @property
    def index(self) -> int:
        return self.position

    def call(self) -> tuple[str, tuple[object, ...], dict[str, object]]:
        args: dict[str, object] = {"period": self.period, "profile": self.profile, "note": self.note}
        if self.reason is None:
            return "set_baseline", (self.key, self.amount), args
        return "reset_baseline", (self.key, self.amount), {**args, "reason": self.reason}

    def subject(self, number: str) -> str:
        what = "baseline" if self.position == 0 else f"baseline reset {self.position}"
        return f"{number} {self.key} {what}"

    def detail(self) -> str:
        return f"{self.key} {amount_text(self.amount)}"

    def entry(self, measure: Measure) -> tuple[object, ...] | None:
        records = measure.baselines.get(self.key, [])
        if self.index >= len(records):
            return None
        b = records[self.index]
        return (b.amount, b.period, b.profile, b.note, b.is_reset, b.stamp.reason)


@dataclass(frozen=True)
class FigureStep(Step):
    """A submission, a revision (it has a reason), or an unavailable mark (no amount)."""

    where: Where
    key: str
    quarter: Quarter
    position: int
    amount: Amount | None
    reported_change: Decimal | None
    commentary: Scalar
    reason: Scalar
    unavailable: Scalar
    fields = ("amount", "reported_change", "commentary", "unavailable", "reason")
    hint = "add a revision to the file instead"

    @property
    def family(self) -> tuple[object, ...]:
        return ("figure", self.key, self.quarter)

    @property
    def index(self) -> int:
        return self.position

    def call(self) -> tuple[str, tuple[object, ...], dict[str, object]]:
        if self.amount is None:
            return "mark_figure_unavailable", (self.key, self.quarter), {"reason": self.unavailable}
        args: dict[str, object] = {"reported_change": self.reported_change, "commentary": self.commentary}
        if self.reason is None:
            return "submit_figure", (self.key, self.quarter, self.amount), args
        return "revise_figure", (self.key, self.quarter, self.amount), {**args, "reason": self.reason}

    def subject(self, number: str) -> str:
        what = "figure" if self.position == 0 else f"revision {self.position}"
        return f"{number} {self.key} {self.quarter.value} {what}"

    def detail(self) -> str:
        shown = "" if self.amount is None else f" {amount_text(self.amount)}"
        return f"{self.key} {self.quarter.value}{shown}"

    def entry(self, measure: Measure) -> tuple[object, ...] | None:
        history = measure.figure_history.get((self.key, self.quarter), [])
        if self.index >= len(history):
            return None
        f = history[self.index]
        return (f.amount, f.reported_change, f.commentary, f.unavailable_reason, f.stamp.reason)


@dataclass(frozen=True)
class CommentaryStep(Step):
    where: Where
    quarter: Quarter
    text: Scalar
    fields = ("text",)
    hint = "correct the file, or change the commentary through the API"

    @property
    def family(self) -> tuple[object, ...]:
        return ("commentary", self.quarter)

    def call(self) -> tuple[str, tuple[object, ...], dict[str, object]]:
        return "update_commentary", (self.quarter, self.text), {}

    def subject(self, number: str) -> str:
        return f"{number} {self.quarter.value} commentary"

    def detail(self) -> str:
        return self.quarter.value

    def entry(self, measure: Measure) -> tuple[object, ...] | None:
        found = measure.commentary.get(self.quarter)
        return None if found is None else (found[0],)


# -- the parsed file ---------------------------------------------------------------


@dataclass(frozen=True)
class ThemeSpec:
    code: str
    title: str
    where: Where


@dataclass(frozen=True)
class StatusSpec:
    """A published status: recorded as an override only where it differs from the computed one."""

    quarter: Quarter
    status: Status
    published_symbol: str | None
    reason: str | None
    where: Where

    def override_reason(self, computed: Status) -> str:
        """Both verdicts in the reason, so an auditor reading the override sees each."""
        return override_reason(self.reason or published_reason(self.published_symbol), self.status, computed)


@dataclass(frozen=True)
class MeasureSpec:
    number: str
    theme_code: str
    definition: Definition
    steps: tuple[Step, ...]
    statuses: tuple[StatusSpec, ...]
    expected: Measure  # the measure as the file describes it, built in memory
    where: Where


@dataclass(frozen=True)
class PlanFile:
    """A whole plan file, checked: what `import_plan` records."""

    path: str
    plan: Plan  # the plan as the file describes it, built in memory
    where: Where
    themes: tuple[ThemeSpec, ...]
    measures: tuple[MeasureSpec, ...]

    @property
    def plan_id(self) -> UUID:
        return self.plan.id


def published_reason(symbol: str | None) -> str:
    return f"Published status in the report: {symbol}" if symbol else "Published status in the report"


def override_reason(base: str, status: Status, computed: Status) -> str:
    return f"{base} ({status.value}); computed {computed.value}"


_OVERRIDE_SUFFIX = re.compile(r" \((?P<status>[A-Z_]+)\); computed [A-Z_]+$")


def file_reason(recorded: str | None, status: Status) -> str | None:
    """The reason a plan file gives for an override recorded with `override_reason` (its inverse)."""
    if recorded is None:
        return None
    found = _OVERRIDE_SUFFIX.search(recorded)
    if found and found["status"] == status.value:
        return recorded[: found.start()]
    return recorded


def load_plan_file(path: str | Path) -> PlanFile:
    """Read and check a whole plan file; raise PlanFileError listing every problem.

    Nothing is written: every value goes through the domain's parsers, and every
    step is applied to a plan and measures held in memory.
    """
    path = Path(path)
    root = _compose(read_text(path, "plan file", PlanFileError), str(path))
    reader = _Reader(str(path))
    plan_file = _read_file(reader, root)
    if reader.problems or plan_file is None:
        raise PlanFileError(reader.problems)
    return plan_file


def _read_file(r: _Reader, root: yaml.Node) -> PlanFile | None:
    top = r.mapping(root, "", ("format", "partnership", "plan", "themes"))
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
        code = _text(r.scalar(fields.get("code"), f"{path}.code"))
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
    if plan is None:
        return None
    return PlanFile(r.name, plan, r.where(top.get("plan", root), "plan"), tuple(themes), tuple(measures))


def _read_plan(r: _Reader, root: yaml.Node, top: dict[str, yaml.Node]) -> Plan | None:
    partnership = r.scalar(top.get("partnership"), "partnership")
    named = r.check(root, "", required_text, partnership, "partnership", limit=MAX_LABEL)
    node = top.get("plan")
    fields = r.mapping(node, "plan", ("title", "year", "period"), ("discrepancy_threshold",))
    if node is None or fields is None or named is None:
        return None
    period = r.mapping(fields.get("period"), "plan.period", ("start", "end")) or {}
    start, end = (_date(r, period.get(key), f"plan.period.{key}") for key in ("start", "end"))
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


def _date(r: _Reader, node: yaml.Node | None, path: str) -> date | None:
    raw = r.scalar(node, path)
    if node is None or raw is None:
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        r.problem(node, path, raw, "must be a date written YYYY-MM-DD")
        return None


@dataclass
class _Component:
    """A component's data as written under the definition that introduces it."""

    key: str
    baselines: list[SetBaseline]
    figures: dict[Quarter, list[FigureStep]]


@dataclass
class _DefinitionSpec:
    definition: Definition | None
    reason: Scalar
    position: int
    where: Where
    components: list[_Component]


def _read_measure(
    r: _Reader,
    node: yaml.Node,
    path: str,
    theme_code: str,
    plan: Plan | None,
    numbers: dict[str, str],
) -> MeasureSpec | None:
    keys = ("redefinitions", "commentary", "status", *OPTIONAL_DEFINITION_KEYS)
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
    definitions = [_read_definition(r, node, fields, path, 0, None)]
    for i, redefinition in enumerate(r.sequence(fields.get("redefinitions"), f"{path}.redefinitions")):
        spec = _read_redefinition(r, redefinition, f"{path}.redefinitions[{i}]", definitions[-1].position)
        if spec is not None:
            definitions.append(spec)
    commentary = [
        CommentaryStep(r.where(n, p), q, r.scalar(n, p))
        for q, n, p in r.quarters(fields.get("commentary"), f"{path}.commentary")
    ]
    statuses = _read_statuses(r, fields.get("status"), f"{path}.status")
    steps = _schedule(r, definitions) + commentary
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


def _check_steps(r: _Reader, measure: Measure, steps: list[Step]) -> None:
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


def _read_definition(
    r: _Reader,
    node: yaml.Node,
    fields: dict[str, yaml.Node],
    path: str,
    position: int,
    reason: Scalar,
) -> _DefinitionSpec:
    def value(key: str) -> Scalar:
        return r.scalar(fields.get(key), _join(path, key))

    direction = r.check(node, path, parse_enum, Direction, value("direction"), "direction")
    basis = r.check(node, path, parse_enum, Basis, value("basis"), "basis")
    pairs: list[tuple[object, object]] = []
    components: list[_Component] = []
    for ci, component in enumerate(r.sequence(fields.get("components"), _join(path, "components"))):
        cpath = _join(path, f"components[{ci}]")
        cfields = r.mapping(component, cpath, ("key", "label"), ("baseline", "baseline_resets", "figures")) or {}
        key = r.scalar(cfields.get("key"), f"{cpath}.key")
        pairs.append((key, r.scalar(cfields.get("label"), f"{cpath}.label")))
        components.append(_read_component(r, cfields, cpath, _text(key)))
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
    return _DefinitionSpec(definition, reason, position, r.where(node, path), components)


def _read_redefinition(r: _Reader, node: yaml.Node, path: str, previous: int) -> _DefinitionSpec | None:
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
    return _read_definition(r, node, fields, path, position, reason)


def _read_component(r: _Reader, fields: dict[str, yaml.Node], path: str, key: str) -> _Component:
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
    return _Component(key, baselines, figures)


def _read_baseline(r: _Reader, node: yaml.Node, path: str, key: str, index: int, reset: bool) -> SetBaseline | None:
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


def _amount(r: _Reader, node: yaml.Node, fields: dict[str, yaml.Node], path: str) -> Amount | None:
    raws = [r.scalar(fields.get(key), f"{path}.{key}") for key in AMOUNT_KEYS]
    return r.check(node, path, parse_amount, *raws, "value")


def _read_figures(r: _Reader, node: yaml.Node, path: str, key: str, quarter: Quarter) -> list[FigureStep]:
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
    r: _Reader,
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
        if not _text(why):
            r.problem(fields["unavailable"], f"{path}.unavailable", why, "say why the figure is unavailable")
            return None
        return FigureStep(where, key, quarter, index, None, None, None, None, why)
    amount = _amount(r, node, fields, path)
    raw_change = r.scalar(fields.get("reported_change"), f"{path}.reported_change")
    change = r.check(node, path, optional_decimal, raw_change, "reported_change")
    reason = r.scalar(fields.get("reason"), f"{path}.reason")
    if available and not _text(reason):
        r.problem(node, f"{path}.reason", None, "a revision needs the reason it was made")
        return None
    if amount is None or (raw_change is not None and change is None):
        return None
    commentary = r.scalar(fields.get("commentary"), f"{path}.commentary")
    return FigureStep(where, key, quarter, index, amount, change, commentary, reason, None)


def _read_statuses(r: _Reader, node: yaml.Node | None, path: str) -> list[StatusSpec]:
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


def _schedule(r: _Reader, definitions: list[_DefinitionSpec]) -> list[Step]:
    """The order steps are recorded in: baselines, then quarter by quarter, redefinitions between."""
    steps: list[Step] = []
    owners: dict[str, _Component] = {}
    introduced_at: dict[str, int] = {}

    def introduce(spec: _DefinitionSpec) -> None:
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


# -- recording -----------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    """What an import recorded (or, in a dry run, would record)."""

    plan_id: UUID
    events_recorded: int
    commands: tuple[str, ...]
    dry_run: bool = False

    def __str__(self) -> str:
        if self.dry_run:
            return f"dry run: {len(self.commands)} event(s) would be recorded for plan {self.plan_id}"
        return f"{self.events_recorded} event(s) recorded for plan {self.plan_id}"


@dataclass(frozen=True)
class _Command:
    line: str
    where: Where
    run: Callable[[Ledger, Request], Written]


def import_plan(
    ledger: Ledger,
    plan_file: PlanFile,
    actor: str,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Record what the file says and the ledger does not have yet, in file order.

    What is recorded already must agree with the file (a figure's recorded
    history must be the start of the file's); if anything disagrees, nothing is
    written and PlanFileError lists every disagreement. A dry run returns the
    commands that would be recorded, one line each, and writes nothing.
    `progress(done, total)` is called as commands are recorded.
    """
    problems: list[Problem] = []
    commands = _plan_commands(ledger, plan_file, problems)
    for spec in plan_file.measures:
        commands += _measure_commands(ledger, plan_file.plan_id, spec, actor, problems)
    if problems:
        raise PlanFileError(problems)
    lines = tuple(c.line for c in commands)
    if dry_run:
        return ImportReport(plan_file.plan_id, 0, lines, dry_run=True)
    req = Request(actor=actor)
    for done, command in enumerate(commands):
        if progress is not None:
            progress(done, len(commands))
        try:
            command.run(ledger, req)
        except DomainError as e:
            message = (
                f"stopped after recording {done} of {len(commands)} events: {command.line}: {e.message}."
                " What was recorded stays; import the file again to record the rest"
            )
            raise PlanFileError([Problem(command.where.location, command.where.path, e.value, message)]) from e
    if progress is not None:
        progress(len(commands), len(commands))
    return ImportReport(plan_file.plan_id, len(commands), lines)


def _load(ledger: Ledger, aggregate_id: UUID, kind: type[T]) -> T | None:
    try:
        found: object = ledger.repository.get(aggregate_id)
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, kind) else None


def _plan_commands(ledger: Ledger, plan_file: PlanFile, problems: list[Problem]) -> list[_Command]:
    expected, where = plan_file.plan, plan_file.where
    recorded = _load(ledger, plan_file.plan_id, Plan)
    commands: list[_Command] = []
    if recorded is None:
        commands.append(
            _Command(
                f"createPlan {expected.partnership} / {expected.title} ({expected.year})",
                where,
                lambda lg, req: lg.create_plan(
                    req,
                    partnership=expected.partnership,
                    title=expected.title,
                    year=expected.year,
                    period_start=expected.period_start,
                    period_end=expected.period_end,
                    discrepancy_threshold=expected.discrepancy_threshold,
                ),
            )
        )
    else:
        for name in ("partnership", "title", "year", "period_start", "period_end", "discrepancy_threshold"):
            mine, theirs = getattr(expected, name), getattr(recorded, name)
            if mine != theirs:
                message = f"the plan is already recorded with {name} {theirs}; the file says {mine}"
                problems.append(Problem(where.location, f"plan.{name}", mine, message))
    recorded_titles = {t.code: t.title for t in recorded.themes} if recorded else {}
    for theme in plan_file.themes:
        if theme.code not in recorded_titles:
            commands.append(_theme_command(plan_file.plan_id, theme))
        elif recorded_titles[theme.code] != theme.title:
            message = f"theme {theme.code} is already recorded as {recorded_titles[theme.code]!r}"
            problems.append(Problem(theme.where.location, f"{theme.where.path}.title", theme.title, message))
    return commands


def _theme_command(plan_id: UUID, theme: ThemeSpec) -> _Command:
    def run(ledger: Ledger, req: Request) -> Written:
        return ledger.add_theme(req, plan_id, code=theme.code, title=theme.title)

    return _Command(f"addTheme {theme.code} {theme.title}", theme.where, run)


def _measure_commands(
    ledger: Ledger, plan_id: UUID, spec: MeasureSpec, actor: str, problems: list[Problem]
) -> list[_Command]:
    measure_id = spec.expected.id
    recorded = _load(ledger, measure_id, Measure)
    commands: list[_Command] = []
    if recorded is None:
        actual = Measure.define(
            plan_id=plan_id,
            theme_code=spec.theme_code,
            number=spec.number,
            definition=spec.definition,
            discrepancy_threshold=spec.expected.discrepancy_threshold,
            actor=actor,
        )
        commands.append(_define_command(plan_id, spec))
    else:
        actual = copy.deepcopy(recorded)
        _compare_definition(spec, recorded, problems)
    for step in spec.steps:
        found = step.entry(recorded) if recorded is not None else None
        if found is not None:
            wanted = step.entry(spec.expected)
            if found != wanted:
                problems.append(_difference(spec.number, step, found, wanted))
            continue
        try:
            step.apply(actual, actor)
        except DomainError as e:
            problems.append(Problem(step.where.location, step.where.path, e.value, e.message))
            continue
        commands.append(_step_command(spec.number, measure_id, step))
    if recorded is not None:
        _compare_lengths(spec, recorded, problems)
    commands += _override_commands(spec, recorded, actual, problems)
    return commands


def _define_command(plan_id: UUID, spec: MeasureSpec) -> _Command:
    def run(ledger: Ledger, req: Request) -> Written:
        return ledger.define_measure(
            req, plan_id, theme_code=spec.theme_code, number=spec.number, definition=spec.definition
        )

    return _Command(f"defineMeasure {spec.number} {spec.definition.title}", spec.where, run)


def _step_command(number: str, measure_id: UUID, step: Step) -> _Command:
    def run(ledger: Ledger, req: Request) -> Written:
        return step.record(ledger, req, measure_id)

    return _Command(step.line(number), step.where, run)


def _compare_definition(spec: MeasureSpec, recorded: Measure, problems: list[Problem]) -> None:
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


def _compare_lengths(spec: MeasureSpec, recorded: Measure, problems: list[Problem]) -> None:
    """A series the file gives must not have more recorded than the file lists."""
    last: dict[tuple[object, ...], Step] = {}
    counts: dict[tuple[object, ...], int] = {("definition",): 1}
    for step in spec.steps:
        if not isinstance(step, CommentaryStep):
            last[step.family] = step
            counts[step.family] = max(counts.get(step.family, 0), step.index + 1)
    for family, count in counts.items():
        kind = family[0]
        if kind == "definition":
            held = len(recorded.definitions)
        elif kind == "baseline":
            held = len(recorded.baselines.get(str(family[1]), []))
        else:
            held = len(recorded.figure_history.get((str(family[1]), Quarter(str(family[2]))), []))
        if held > count:
            latest = last.get(family)
            where = latest.where if latest else spec.where
            subject = " ".join(str(part) for part in family[1:]) or "definition"
            message = (
                f"measure {spec.number} has {held} {kind} record(s) for {subject} but the file lists"
                f" {count}: add the later ones to the file"
            )
            problems.append(Problem(where.location, where.path, None, message))


def _override_commands(
    spec: MeasureSpec, recorded: Measure | None, actual: Measure, problems: list[Problem]
) -> list[_Command]:
    """Published statuses: an override where one differs from the status computed from the figures."""
    view = measure_view(actual)
    commands: list[_Command] = []
    for status in spec.statuses:
        computed = view.quarters[status.quarter.number - 1].computed_status
        existing = recorded.overrides.get(status.quarter) if recorded else None
        if existing is not None:
            if existing.status is not status.status:
                message = f"{spec.number} {status.quarter.value} is already overridden as {existing.status.value}"
                problems.append(Problem(status.where.location, status.where.path, status.status.value, message))
            continue
        if status.status is computed:
            continue
        commands.append(_override_command(spec, actual.id, status, computed))
    return commands


def _override_command(spec: MeasureSpec, measure_id: UUID, status: StatusSpec, computed: Status) -> _Command:
    reason = status.override_reason(computed)

    def run(ledger: Ledger, req: Request) -> Written:
        return ledger.override_status(req, measure_id, status.quarter, status.status, reason=reason)

    line = f"overrideStatus {spec.number} {status.quarter.value} {status.status.value} (computed {computed.value})"
    return _Command(line, status.where, run)


def _difference(number: str, step: Step, found: tuple[object, ...], wanted: tuple[object, ...] | None) -> Problem:
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

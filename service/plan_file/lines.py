"""Reading YAML with line numbers: every value keeps its `file:line`, and every problem is collected.

The file is composed into nodes rather than loaded into Python objects, so a
problem found later (by the domain's parsers, or by applying a step in memory)
can still be placed at the line that holds the offending field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import yaml

from domain.errors import DomainError
from domain.values import Quarter
from service.plan_file.problems import PlanFileError, Problem

NULL_TAG = "tag:yaml.org,2002:null"
# The domain names some fields as the API spells them; the file spells them in snake case.
FILE_FIELD = {"discrepancyThreshold": "discrepancy_threshold", "reportedChange": "reported_change"}

T = TypeVar("T")
Scalar = str | None


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


def compose(text: str, name: str) -> yaml.Node:
    """The file's root node; PlanFileError where it is not YAML, or holds only comments."""
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


def join_path(path: str, key: str) -> str:
    """The path of `key` under `path`: `a.b`, or `a[0]` for an index."""
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
class Reader:
    """Walks the node tree, collecting every problem instead of stopping at the first."""

    name: str
    problems: list[Problem] = field(default_factory=list)
    _reported: set[str] = field(default_factory=set)

    def where(self, node: yaml.Node, path: str) -> Where:
        """The place of `node`, named by `path`."""
        return Where(f"{self.name}:{node.start_mark.line + 1}", path, node)

    def problem(self, node: yaml.Node, path: str, value: object, expected: str) -> None:
        """Note a problem at `node`'s line."""
        # One problem per field: a later check of a value already refused would only repeat it.
        if path in self._reported:
            return
        self._reported.add(path)
        self.problems.append(Problem(self.where(node, path).location, path, value, expected))

    def refused(self, node: yaml.Node, path: str, error: DomainError) -> None:
        """A domain refusal, placed at the field it names where the file has that field."""
        name = FILE_FIELD.get(error.field, error.field)
        self.problem(_child(node, name) or node, join_path(path, name), error.value, error.message)

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
        """A mapping's values by key; unknown, repeated and missing keys are problems. None if not a mapping."""
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
                self.problem(key_node, join_path(path, key), None, "appears twice in the same mapping")
            elif key not in known:
                self.problem(key_node, join_path(path, key), None, f"is not a key here; expected {', '.join(known)}")
            else:
                found[key] = value_node
        for key in required:
            if key not in found:
                self.problem(node, join_path(path, key), None, "is required")
        return found

    def sequence(self, node: yaml.Node | None, path: str) -> list[yaml.Node]:
        """A list's items; absent or null is an empty list."""
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

    def date(self, node: yaml.Node | None, path: str) -> date | None:
        """A date written YYYY-MM-DD; None (and a problem) for anything else."""
        raw = self.scalar(node, path)
        if node is None or raw is None:
            return None
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            self.problem(node, path, raw, "must be a date written YYYY-MM-DD")
            return None

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
                self.problem(key_node, join_path(path, key), key, e.message)
                continue
            if any(q is quarter for q, _, _ in found):
                self.problem(key_node, join_path(path, str(key)), None, f"{quarter.value} appears twice")
                continue
            found.append((quarter, value_node, join_path(path, quarter.value)))
        return found


def _raw(node: yaml.Node) -> object:
    if isinstance(node, yaml.ScalarNode):
        return node.value
    return "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"


def stripped(value: Scalar) -> str:
    """A value's text without surrounding blanks; empty for none."""
    return "" if value is None else value.strip()

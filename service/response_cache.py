"""A response cache that is never stale, and the ETags it answers `If-None-Match` with.

A query's result is a function of four things: the document (and operation name), its variables, what the
caller may see, and the state of the plans it reads. The first three make the cache key; the fourth is read
from PostgreSQL on every request, so a result is served again exactly until one of its plans changes.

**The validator: when did these plans last change.** Every event that changes a plan's rows — the plan's own
events (`PlanCreated`, `ThemeAdded`) and every event of its measures — is projected with an audit entry
carrying that plan's id, in the same transaction as the rows and the tracking position
(`projections/current_state.py`, `domain/audit.describe`). Positions are global and only grow, so the
largest audit position among a set of plans changes whenever any of them changes, and a query that reads
only those plans has the same result for the same largest position. One round trip per request reads it
(an index probe on `audit_entries (plan_id, position)` per plan): every process sees every other process's
writes, so many stateless processes behind one database never serve what another has changed. A write is
visible to the very next read: a mutation answers only once the read model holds its write, and the audit
entry is committed with it.

The epoch, `pg_relation_filenode('audit_entries')`, changes when the read model is truncated (`rebuild`) or
recreated (a new table version), so nothing cached before a rebuild is ever matched after it. **While a
rebuild runs, nothing is cached or served from the cache**: the read model is marked as being rebuilt
(`read_model_meta`, projections/rebuild.py), and the validator reads the mark in the same round trip. A
rebuild in shares projects one plan's measures in several processes, each at its own pace, so a plan's last
position can be written before earlier events of another of its measures are: a result cached then would
match the same position after the rebuild, without those events.

**Which plans a query reads** is found from its root fields, before execution:

- `plan(id, asOf)` reads that plan, its themes and measures: validated by the plan's last position;
- `measure(id, asOf)` reads the measure and its plan: by that plan's last position (the plan found from the
  measure's audit entries; 0 until the measure exists);
- `plans(partnership)` reads the partnership's plans: by the last position of each of its current plans, so
  a new plan counts too;
- `plans` of every partnership, and `auditTrail`, read everything: by the last audit position of all;
- `__typename` reads nothing.

Any other root field (`auditDigest` reads the hash chain, which has a position of its own), a mutation, a
subscription, a document that does not parse, or an id that is not a UUID is not cached: it is executed as
always. `asOf` results are cached like the present: what a plan showed at a moment changes only if that
plan changes (after the moment, or up to a moment still in the future). Nested fields must read only their
own plan's rows for this to hold: a field that reads anything else must not be reachable from the fields
above without a row in `ROOT_FIELDS`.

A miss reads the validator again after executing and stores the result only if it has not moved: had a
write to these plans committed during execution, the result might mix states, and is served once, uncached
and without an ETag.

**Who may see it.** The key holds the caller's visibility — kind (token, JWT, public), partnership, effective
roles and write scope — never the name: two viewers of one partnership share entries, a viewer and an
auditor, or viewers of two partnerships, never do. Authentication runs before the cache, so a revoked token
is refused as before. Only results without errors are stored.

**ETag.** A strong ETag, the hash of the key, the validator, the media type, the content coding and the build
(schema and read-model version), so it is the same in every process of one release and changes when the plan
does. The gzip encoding of a result is another representation with an ETag of its own, compressed once when
first asked for and kept in the entry beside the identity bytes (service/compression.py).
`If-None-Match` is answered with 304 on GET and on POST (GraphQL over HTTP is mostly POST; our clients send
it there too), and only when the caller would have got exactly that representation: an ETag is never a way
to learn another partnership's positions.

**Memory** is bounded by bytes (`ML_RESPONSE_CACHE_MB`): least recently used entries go first; one key keeps
one entry, replaced when its plans change.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from uuid import UUID

import asyncpg
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    parse,
)

from projections.read_model_tables import VERSION
from projections.view import NAME
from service.auth.principal import Principal
from service.compression import gzip_off_loop

log = logging.getLogger(__name__)

# Documents above this size are executed uncached: their analysis would be kept in memory with the text.
MAX_DOCUMENT_CHARS: Final = 64 * 1024
# Documents whose analysis is remembered (most recent first out), as Strawberry's parser cache does.
MAX_SHAPES: Final = 256
# Book-keeping per entry beyond its body: key, validator, the OrderedDict's node.
ENTRY_OVERHEAD: Final = 200
STATIC: Final = "static"

# What each cacheable root field reads: "plan"/"measure" by its `id`, "partnership" by `plans(partnership)`,
# "everything", or "nothing". Any root field not listed makes the document uncacheable.
ROOT_FIELDS: Final[Mapping[str, tuple[str, str | None]]] = {
    "plan": ("plan", "id"),
    "measure": ("measure", "id"),
    "plans": ("partnership", "partnership"),
    "auditTrail": ("everything", None),
    "__typename": ("nothing", None),
}

# One round trip: the read model's epoch and the last position among the plans read. Each plan's last
# position is one backward probe of audit_entries (plan_id, position); `max(position) WHERE plan_id = ANY(...)`
# would read every entry of those plans instead.
EPOCH: Final = (
    "pg_relation_filenode('audit_entries'::regclass) AS epoch,"
    f" (SELECT version FROM read_model_meta WHERE name = '{NAME}') AS model"
)
LAST_OF_PLAN: Final = "SELECT a.position FROM audit_entries a WHERE a.plan_id = {} ORDER BY a.position DESC LIMIT 1"
# The commonest case, a dashboard of one plan, in its cheapest form (no set to build, a trivial plan).
ONE_PLAN_SQL: Final = f"SELECT {EPOCH}, ({LAST_OF_PLAN.format('$1')}) AS position"
EVERYTHING_SQL: Final = f"SELECT {EPOCH}, (SELECT max(position) FROM audit_entries) AS position"
# The plans read, for each kind of target: by id; a measure's plan, from its first audit entry (none, and so
# no position, until the measure exists); a partnership's current plans.
TARGETS: Final = {
    "plans": "SELECT unnest({}::uuid[])",
    "measures": "SELECT (SELECT a.plan_id FROM audit_entries a WHERE a.measure_id = m.id ORDER BY a.position LIMIT 1)"
    " FROM unnest({}::uuid[]) AS m(id)",
    "partnerships": "SELECT p.id FROM plans p WHERE p.valid_to IS NULL"
    " AND lower(p.partnership) IN (SELECT lower(x) FROM unnest({}::text[]) AS x)",
}


def validator_query(scope: Scope) -> tuple[str, list[Any]]:
    """The SQL and arguments that read the state of what `scope` reads (never called for a static scope)."""
    if scope.everything:
        return EVERYTHING_SQL, []
    if len(scope.plans) == 1 and not scope.measures and not scope.partnerships:
        return ONE_PLAN_SQL, list(scope.plans)
    parts: list[str] = []
    args: list[Any] = []
    for kind, values in (("plans", scope.plans), ("measures", scope.measures), ("partnerships", scope.partnerships)):
        if values:
            args.append(sorted(values))
            parts.append(TARGETS[kind].format(f"${len(args)}"))
    targets = " UNION ALL ".join(parts)
    last = LAST_OF_PLAN.format("t.plan_id")
    sql = (
        f"SELECT {EPOCH}, (SELECT max(last.position) FROM ({targets}) AS t(plan_id)"
        f" CROSS JOIN LATERAL ({last}) AS last) AS position"
    )
    return sql, args


@dataclass(frozen=True)
class Scope:
    """What a request reads, as the validator needs it."""

    plans: frozenset[UUID] = frozenset()
    measures: frozenset[UUID] = frozenset()
    partnerships: frozenset[str] = frozenset()
    everything: bool = False

    @property
    def static(self) -> bool:
        return not (self.plans or self.measures or self.partnerships or self.everything)


class _Unusable(Exception):
    """An argument the cache cannot read ahead of execution (execution will say what is wrong, if anything)."""


@dataclass(frozen=True)
class Shape:
    """A query operation's root fields that matter to the cache: (what it reads, its argument's value node)."""

    targets: tuple[tuple[str, ValueNode | None], ...]
    defaults: Mapping[str, ValueNode]

    def scope(self, variables: Mapping[str, Any], principal: Principal | None) -> Scope | None:
        """What this request reads with these variables, or None if that cannot be known before execution."""
        plans: set[UUID] = set()
        measures: set[UUID] = set()
        partnerships: set[str] = set()
        everything = False
        try:
            for kind, node in self.targets:
                if kind == "plan":
                    plans.add(_uuid(self._value(node, variables)))
                elif kind == "measure":
                    measures.add(_uuid(self._value(node, variables)))
                elif kind == "partnership":
                    requested = self._value(node, variables)
                    if requested is not None and not isinstance(requested, str):
                        return None
                    # As the resolver does (policy.partnership_filter): one partnership's principal sees its own.
                    visible = requested or (principal.partnership if principal is not None else None)
                    if visible is None:
                        everything = True
                    else:
                        partnerships.add(visible)
                elif kind == "everything":
                    everything = True
        except _Unusable:
            return None
        return Scope(frozenset(plans), frozenset(measures), frozenset(partnerships), everything)

    def _value(self, node: ValueNode | None, variables: Mapping[str, Any]) -> Any:
        if node is None:
            return None
        if isinstance(node, VariableNode):
            name = node.name.value
            if name in variables:
                return variables[name]
            default = self.defaults.get(name)
            return None if default is None else self._value(default, variables)
        if isinstance(node, StringValueNode):
            return node.value
        if isinstance(node, NullValueNode):
            return None
        raise _Unusable


def _uuid(value: Any) -> UUID:
    # As service.schema.errors.parse_id reads an ID; anything else is an error that execution reports.
    if value is None or isinstance(value, dict | list | bool):
        raise _Unusable
    try:
        return UUID(str(value))
    except ValueError:
        raise _Unusable from None


def analyse(query: str, operation_name: str | None, max_tokens: int) -> Shape | None:
    """The shape of a cacheable query operation; None for anything else (executed uncached)."""
    if len(query) > MAX_DOCUMENT_CHARS:
        return None
    try:
        # Bounded like the service's own limit, so a hostile document costs no more here than there.
        document = parse(query, no_location=True, max_tokens=max_tokens)
    except Exception:  # a syntax error, too many tokens, nesting too deep: execution will refuse it
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    if operation_name is None:
        chosen = operations[0] if len(operations) == 1 else None
    else:
        chosen = next((o for o in operations if o.name is not None and o.name.value == operation_name), None)
    if chosen is None or chosen.operation != OperationType.QUERY:
        return None
    fields = _root_fields(chosen.selection_set, fragments, frozenset())
    if fields is None:
        return None
    targets: list[tuple[str, ValueNode | None]] = []
    for node in fields:
        known = ROOT_FIELDS.get(node.name.value)
        if known is None:
            return None
        kind, argument = known
        value = next((a.value for a in node.arguments or () if a.name.value == argument), None)
        targets.append((kind, value))
    defaults = {
        d.variable.name.value: d.default_value for d in chosen.variable_definitions or () if d.default_value is not None
    }
    return Shape(tuple(targets), defaults)


def _root_fields(
    selections: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode], seen: frozenset[str]
) -> list[FieldNode] | None:
    # Directives (@include, @skip) are ignored: validating a field that is then skipped is merely cautious.
    found: list[FieldNode] = []
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            found.append(selection)
            continue
        if isinstance(selection, InlineFragmentNode):
            condition, inner, name = selection.type_condition, selection.selection_set, None
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:
                return None
            condition, inner = fragment.type_condition, fragment.selection_set
        else:
            return None
        if condition is not None and condition.name.value != "Query":
            return None
        more = _root_fields(inner, fragments, seen | {name} if name else seen)
        if more is None:
            return None
        found.extend(more)
    return found


_KEY_JSON: Final[dict[str, Any]] = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False, "default": str}


def _document_digest(build: str, query: str, operation_name: str | None) -> Any:
    """SHA-256 fed the start of a key's JSON, up to the operation name: made once for each of the few documents
    clients send (their JSON is most of a key's bytes)."""
    if len(query) > MAX_DOCUMENT_CHARS:
        return _document_digest_of(build, query, operation_name)
    return _kept_document_digest(build, query, operation_name)


def _document_digest_of(build: str, query: str, operation_name: str | None) -> Any:
    return hashlib.sha256(json.dumps([build, query, operation_name], **_KEY_JSON)[:-1].encode())


_kept_document_digest = functools.lru_cache(maxsize=MAX_SHAPES)(_document_digest_of)


def visibility(principal: Principal | None) -> list[Any]:
    """Everything about a caller that can make a result differ, and nothing more (not the name)."""
    if principal is None:
        return ["anonymous"]

    def listed(values: frozenset[str] | None) -> list[str] | None:
        return None if values is None else sorted(values)

    return [
        principal.kind,
        None if principal.partnership is None else principal.partnership.casefold(),
        sorted(r.value for r in principal.effective_roles),
        listed(principal.themes),
        listed(principal.measures),
    ]


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names this ETag (the weak comparison RFC 9110 asks for here)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


@dataclass
class Entry:
    """A kept result: its identity bytes, and their gzip encoding once a client has asked for it."""

    validator: str
    body: bytes
    gzipped: bytes | None = None

    @property
    def cost(self) -> int:
        return len(self.body) + len(self.gzipped or b"") + ENTRY_OVERHEAD


@dataclass
class ResponseCache:
    """One process's cached results, bounded by bytes; see the module's doc for why they are never stale."""

    max_bytes: int
    build: str
    max_tokens: int = 2000
    entries: OrderedDict[bytes, Entry] = field(default_factory=OrderedDict)
    shapes: OrderedDict[tuple[str, str | None], Shape | None] = field(default_factory=OrderedDict)
    # Executions under way, by key and validator: what identical requests arriving meanwhile wait for.
    flights: dict[tuple[bytes, str], asyncio.Future[Entry | None]] = field(default_factory=dict)
    size: int = 0
    hits: int = 0
    misses: int = 0
    evictions: int = 0

    def shape(self, query: str, operation_name: str | None) -> Shape | None:
        """The document's shape, analysed once per document."""
        key = (query, operation_name)
        if key in self.shapes:
            self.shapes.move_to_end(key)
            return self.shapes[key]
        found = analyse(query, operation_name, self.max_tokens)
        if len(query) <= MAX_DOCUMENT_CHARS:
            self.shapes[key] = found
            while len(self.shapes) > MAX_SHAPES:
                self.shapes.popitem(last=False)
        return found

    def key(
        self, query: str, operation_name: str | None, variables: Mapping[str, Any], principal: Principal | None
    ) -> bytes:
        """A digest of everything the result depends on except the plans' state."""
        # The JSON of [build, query, operation name, variables, visibility], hashed: the hash of its document part
        # is taken once per document and carried on from a copy.
        digest = _document_digest(self.build, query, operation_name).copy()
        rest = json.dumps([variables, visibility(principal)], **_KEY_JSON)
        digest.update(b"," + rest[1:].encode())
        return digest.digest()

    async def validator(self, pool: asyncpg.Pool, scope: Scope) -> str | None:
        """The state of what `scope` reads: changes whenever any of it does. None while the read model is
        being rebuilt (or is of another version): then nothing is cached."""
        if scope.static:
            return STATIC
        sql, args = validator_query(scope)
        row = await pool.fetchrow(sql, *args)
        assert row is not None
        if row["model"] != VERSION:
            return None
        return f"{row['epoch']}.{row['position'] or 0}"

    def etag(self, key: bytes, validator: str, media_type: str, encoding: str | None = None) -> str:
        material = key + b"\0" + validator.encode() + b"\0" + media_type.encode()
        if encoding is not None:
            material += b"\0" + encoding.encode()
        return f'"{hashlib.sha256(material).hexdigest()[:40]}"'

    def get(self, key: bytes, validator: str) -> Entry | None:
        entry = self.entries.get(key)
        if entry is None or entry.validator != validator:
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return entry

    async def gzipped(self, key: bytes, entry: Entry) -> bytes:
        """The entry's gzip encoding, compressed the first time it is asked for and kept with it."""
        if entry.gzipped is None:
            encoded = await gzip_off_loop(entry.body)
            # Another request may have compressed it meanwhile, or the entry may have left the cache.
            if entry.gzipped is None:
                entry.gzipped = encoded
                if self.entries.get(key) is entry:
                    self.size += len(encoded)
                    self._evict()
            return encoded
        return entry.gzipped

    def running(self, key: bytes, validator: str) -> asyncio.Future[Entry | None] | None:
        """The execution of this result at this state under way, if any: it resolves to the entry, or None."""
        return self.flights.get((key, validator))

    def start(self, key: bytes, validator: str) -> asyncio.Future[Entry | None]:
        flight: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
        self.flights.setdefault((key, validator), flight)
        return flight

    def finish(self, key: bytes, validator: str, flight: asyncio.Future[Entry | None], entry: Entry | None) -> None:
        """Hand the result (None: not kept, so each waiter executes its own) to whoever waited for it."""
        if not flight.done():
            flight.set_result(entry)
        if self.flights.get((key, validator)) is flight:
            del self.flights[(key, validator)]

    def put(self, key: bytes, validator: str, body: bytes) -> Entry:
        """Keep a result (unless it is too large to be worth it); the entry is served either way."""
        entry = Entry(validator, body)
        # An entry over a quarter of the budget would push out too much else to be worth keeping.
        if entry.cost * 4 > self.max_bytes:
            return entry
        previous = self.entries.pop(key, None)
        if previous is not None:
            self.size -= previous.cost
        self.entries[key] = entry
        self.size += entry.cost
        self._evict()
        return entry

    def _evict(self) -> None:
        while self.size > self.max_bytes and self.entries:
            _, evicted = self.entries.popitem(last=False)
            self.size -= evicted.cost
            self.evictions += 1

    def stats(self) -> dict[str, int]:
        return {
            "entries": len(self.entries),
            "bytes": self.size,
            "hits": self.hits,
            "misses": self.misses,
            "evictions": self.evictions,
        }


def build_id(parts: Iterable[str]) -> str:
    """What makes one release's results differ from another's at the same positions."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]

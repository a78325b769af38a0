"""Limits on what one request may ask: document shape and cost, page sizes, mutation rate, body size.

Every refusal is a GraphQL error with `extensions.code` LIMIT_EXCEEDED and a
message naming the limit and its value; `extensions.limit`/`max`/`found` say
the same for programs.

The validation rules are classes bound to a `LimitConfig` once, at start-up:
Strawberry's ValidationCache keys its cache on the rule classes, so rules
built per request (a factory) would make every request a cache miss. Register
them with `limits_extension(config)`, a class-level extension; it also checks
page sizes given in variables, which validation (cached per document, not per
request) cannot see.

Cost model: each object field costs 1 (scalars are free: they are read from an
object already loaded), times the number of times it will be resolved; a
list field multiplies its subtree by its page size (`first`/`last`, or for a
connection the `first` of the field above it), else by `list_weights`
("Type.field"), else by `default_list_weight`. Introspection (`__schema`,
`__type`) is bounded by the schema itself and is not counted.
"""

from __future__ import annotations

import json
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    Lexer,
    OperationDefinitionNode,
    SelectionSetNode,
    Source,
    TokenKind,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
    print_ast,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.utilities import get_operation_ast
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import AddValidationRules

# Lists whose length the domain fixes: a measure has at most four quarters.
DEFAULT_LIST_WEIGHTS: Mapping[str, int] = {"Measure.quarters": 4, "Component.figures": 4}


@dataclass(frozen=True)
class LimitConfig:
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000
    # Every plan of a partnership with every figure costs about 5,000; four times that leaves
    # room for real dashboards and none for a nest of unbounded lists.
    max_cost: int = 20_000
    max_page_size: int = 500
    default_list_weight: int = 10
    list_weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_LIST_WEIGHTS))
    page_size_arguments: tuple[str, ...] = ("first", "last")


def limit_error(what: str, limit: str, maximum: int, found: int | None = None, **extra: Any) -> GraphQLError:
    """LIMIT_EXCEEDED, e.g. "query depth is 50, over the limit of 12 (maxDepth)"."""
    shown = f"{found:,}, over" if found is not None else "over"
    extensions = {"code": "LIMIT_EXCEEDED", "limit": limit, "max": maximum, **extra}
    if found is not None:
        extensions["found"] = found
    return GraphQLError(f"{what} is {shown} the limit of {maximum:,} ({limit})", extensions=extensions)


# --- measuring documents --------------------------------------------------------------------------------------


class _DepthAndCost:
    """Depth and cost of one operation, fragments memoised so a fragment spread many times is measured once."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, config: LimitConfig, variables: Mapping[str, Any]
    ):
        self.schema, self.config, self.variables = schema, config, variables
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self._depths: dict[str, int] = {}
        self._costs: dict[tuple[str, int | None], int] = {}

    def depth(self, selection_set: SelectionSetNode | None) -> int:
        deepest = 0
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                deepest = max(deepest, 0 if sel.name.value.startswith("__") else 1 + self.depth(sel.selection_set))
            elif isinstance(sel, InlineFragmentNode):
                deepest = max(deepest, self.depth(sel.selection_set))
            elif isinstance(sel, FragmentSpreadNode) and (name := sel.name.value) in self.fragments:
                if name not in self._depths:
                    self._depths[name] = 0  # a cycle counts as nothing; NoFragmentCycles reports it
                    self._depths[name] = self.depth(self.fragments[name].selection_set)
                deepest = max(deepest, self._depths[name])
        return deepest

    def page_size(self, node: FieldNode) -> int | None:
        # A page over the maximum is refused on its own account: cost it at the maximum, not twice.
        # A negative one (the resolver refuses it) must not lower the cost of the rest of the query.
        size = _page_size(node, self.config, self.variables)
        return None if size is None else max(0, min(size, self.config.max_page_size))

    def cost(self, selection_set: SelectionSetNode | None, parent: Any, page: int | None = None) -> int:
        total = 0
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                total += self._field_cost(sel, parent, page)
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition
                total += self.cost(sel.selection_set, self.schema.get_type(cond.name.value) if cond else parent, page)
            elif isinstance(sel, FragmentSpreadNode) and (name := sel.name.value) in self.fragments:
                key = (name, page)
                if key not in self._costs:
                    self._costs[key] = 0  # cycle guard, as for depth
                    fragment = self.fragments[name]
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    self._costs[key] = self.cost(fragment.selection_set, target, page)
                total += self._costs[key]
        return total

    def _field_cost(self, node: FieldNode, parent: Any, page: int | None) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        definition = parent.fields.get(name)
        if definition is None:
            return 0  # unknown field: FieldsOnCorrectType reports it
        own = self.page_size(node)
        named = get_named_type(definition.type)
        if is_list_type(get_nullable_type(definition.type)):
            weight = own if own is not None else page
            if weight is None:
                weight = self.config.list_weights.get(f"{parent.name}.{name}", self.config.default_list_weight)
            return weight * (int(is_composite_type(named)) + self.cost(node.selection_set, named))
        # A connection's `first` sizes the list directly below it (edges, nodes).
        return int(is_composite_type(named)) + self.cost(node.selection_set, named, own)


def _page_size(node: FieldNode, config: LimitConfig, variables: Mapping[str, Any]) -> int | None:
    """The page size a field asks for: a literal, or a variable's value; None if it asks for none."""
    for arg in node.arguments or ():
        if arg.name.value in config.page_size_arguments:
            value = arg.value
            if isinstance(value, VariableNode):
                found = variables.get(value.name.value)
                return found if isinstance(found, int) and not isinstance(found, bool) else None
            if isinstance(value, IntValueNode):
                return int(value.value)
    return None


def _operations(document: DocumentNode) -> Iterator[OperationDefinitionNode]:
    return (d for d in document.definitions if isinstance(d, OperationDefinitionNode))


def _fields(document: DocumentNode) -> Iterator[FieldNode]:
    """Every field of every definition, without recursion (documents can nest deeper than Python's stack)."""
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode):
            yield node
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)


def _variable_defaults(operation: OperationDefinitionNode) -> dict[str, Any]:
    return {
        d.variable.name.value: int(d.default_value.value)
        for d in operation.variable_definitions or ()
        if isinstance(d.default_value, IntValueNode)
    }


def check_operation(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    config: LimitConfig,
    variables: Mapping[str, Any],
) -> list[GraphQLError]:
    """Depth and cost of one operation with these variable values (defaults where a variable is not given)."""
    meter = _DepthAndCost(schema, document, config, {**_variable_defaults(operation), **variables})
    errors = []
    try:
        depth = meter.depth(operation.selection_set)
        if depth > config.max_depth:
            errors.append(limit_error("query depth", "maxDepth", config.max_depth, depth))
        root = schema.get_root_type(operation.operation)
        cost = meter.cost(operation.selection_set, root)
        if cost > config.max_cost:
            # Past 2**53 a JSON number loses precision; "over the limit" says enough.
            errors.append(limit_error("query cost", "maxCost", config.max_cost, cost if cost < 2**53 else None))
    except RecursionError:  # only a document nested far beyond any limit gets here
        errors.append(limit_error("query depth", "maxDepth", config.max_depth))
    return errors


def page_size_errors(document: DocumentNode, config: LimitConfig, variables: Mapping[str, Any]) -> list[GraphQLError]:
    """Page sizes over `max_page_size`, given literally or by these variables."""
    errors = []
    for node in _fields(document):
        size = _page_size(node, config, variables)
        if size is not None and size > config.max_page_size:
            argument = next(a.name.value for a in node.arguments if a.name.value in config.page_size_arguments)
            what = f"page size of {node.name.value}"
            errors.append(limit_error(what, "maxPageSize", config.max_page_size, size, field=argument))
    return errors


def count_tokens(source: Source, stop_after: int) -> int:
    """Lexical tokens of a document (comments excluded), counting no further than `stop_after` + 1."""
    lexer, count = Lexer(source), 0
    while lexer.advance().kind != TokenKind.EOF and count <= stop_after:
        count += 1
    return count


class _AcceptedDocuments:
    """Document texts already counted and found within a token limit, most recently used last.

    Clients send the same few documents again and again (a dashboard's, a form's); lexing one
    again costs more than everything else before execution (the parse and validation are cached).
    Only short texts within the limit are kept, so the cache stays small whatever is sent.
    """

    def __init__(self, size: int = 256, longest: int = 20_000) -> None:
        self.size, self.longest = size, longest
        self._seen: dict[tuple[str, int], None] = {}
        self._lock = threading.Lock()  # WebSocket subscribes and HTTP requests may check from worker threads

    def __contains__(self, key: tuple[str, int]) -> bool:
        return key in self._seen

    def add(self, key: tuple[str, int]) -> None:
        if len(key[0]) > self.longest:
            return
        with self._lock:
            self._seen.pop(key, None)
            self._seen[key] = None
            while len(self._seen) > self.size:
                del self._seen[next(iter(self._seen))]


_ACCEPTED = _AcceptedDocuments()


def token_refusal(query: str | None, config: LimitConfig) -> GraphQLError | None:
    """LIMIT_EXCEEDED if a document's text has more than `max_tokens` tokens, found before it is parsed.

    Parsing and validating a megabyte of tokens takes seconds of the event loop; counting stops
    after max_tokens + 1. (TokenLimit reports the same for a document that was parsed elsewhere.)
    A text counted before and found within the limit is not counted again.
    """
    if not query or (query, config.max_tokens) in _ACCEPTED:
        return None
    if count_tokens(Source(query), config.max_tokens) > config.max_tokens:
        return limit_error("number of tokens", "maxTokens", config.max_tokens)
    _ACCEPTED.add((query, config.max_tokens))
    return None


# --- validation rules -----------------------------------------------------------------------------------------


class _LimitRule(ValidationRule):
    config: ClassVar[LimitConfig]


class DepthAndCostLimit(_LimitRule):
    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        for error in check_operation(self.context.schema, self.context.document, node, self.config, {}):
            self.report_error(GraphQLError(error.message, node, extensions=error.extensions))


class AliasLimit(_LimitRule):
    def enter_document(self, node: DocumentNode, *_: Any) -> None:
        aliases = sum(1 for f in _fields(node) if f.alias is not None)
        if aliases > self.config.max_aliases:
            self.report_error(limit_error("number of aliases", "maxAliases", self.config.max_aliases, aliases))


class TokenLimit(_LimitRule):
    def enter_document(self, node: DocumentNode, *_: Any) -> None:
        source = node.loc.source if node.loc else Source(print_ast(node))
        found = count_tokens(source, self.config.max_tokens)
        if found > self.config.max_tokens:
            self.report_error(limit_error("number of tokens", "maxTokens", self.config.max_tokens))


class PageSizeLimit(_LimitRule):
    def enter_document(self, node: DocumentNode, *_: Any) -> None:
        # Literal page sizes; variables' defaults too (a request's own values are checked at execution).
        defaults: dict[str, Any] = {}
        for operation in _operations(node):
            defaults.update(_variable_defaults(operation))
        for error in page_size_errors(node, self.config, defaults):
            self.report_error(error)


class _PageVariableCache:
    """Whether a document passes a page size in a variable, remembered per parsed document.

    Most documents do not, and need no check at execution at all. Keyed by the
    document object (the ParserCache hands out the same one for the same text),
    by identity: hashing a document walks the whole tree.
    """

    def __init__(self, config: LimitConfig, size: int = 256) -> None:
        self.names, self.size = config.page_size_arguments, size
        self._seen: dict[int, tuple[weakref.ref[DocumentNode], bool]] = {}

    def __call__(self, document: DocumentNode) -> bool:
        found = self._seen.get(id(document))
        if found is not None and found[0]() is document:
            return found[1]
        arguments = (a for f in _fields(document) for a in f.arguments or () if a.name.value in self.names)
        answer = any(isinstance(a.value, VariableNode) for a in arguments)
        if len(self._seen) >= self.size:
            self._seen.clear()
        self._seen[id(document)] = (weakref.ref(document), answer)
        return answer


def limit_rules(config: LimitConfig | None = None) -> list[type[ASTValidationRule]]:
    """The limit rules bound to `config`. Call once (at import or start-up), never per request."""
    bound = config or LimitConfig()
    bases: tuple[type[_LimitRule], ...] = (DepthAndCostLimit, AliasLimit, TokenLimit, PageSizeLimit)
    return [type(base.__name__, (base,), {"config": bound}) for base in bases]


def limits_extension(config: LimitConfig | None = None) -> type[AddValidationRules]:
    """A Strawberry extension class adding the limit rules and checking variables at execution; call once."""
    bound = config or LimitConfig()
    rule_classes = limit_rules(bound)
    uses_page_variables = _PageVariableCache(bound)

    class LedgerLimits(AddValidationRules):
        rules: ClassVar[list[type[ASTValidationRule]]] = rule_classes
        config: ClassVar[LimitConfig] = bound

        def __init__(self, *, execution_context: Any = None) -> None:
            super().__init__(rule_classes)

        def on_parse(self) -> Iterator[None]:
            # Register this extension before ParserCache, so that this runs before the document is parsed.
            if refusal := token_refusal(self.execution_context.query, bound):
                raise refusal
            yield

        def on_execute(self) -> Iterator[None]:
            # Validation was cached per document; page sizes and cost given in variables are checked here.
            ctx = self.execution_context
            document = ctx.graphql_document
            if ctx.variables and document is not None and uses_page_variables(document):
                operation = get_operation_ast(document, ctx.operation_name)
                variables = {**(_variable_defaults(operation) if operation else {}), **ctx.variables}
                errors = page_size_errors(document, bound, variables)
                if operation is not None and not errors:
                    errors = check_operation(ctx.schema._schema, document, operation, bound, variables)
                if errors:
                    ctx.result = GraphQLExecutionResult(data=None, errors=errors)
            yield

    return LedgerLimits


# --- mutation rate ----------------------------------------------------------------------------------------------


class RateLimiter:
    """A token bucket per principal, in this process: `rate` mutations a second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()  # mutations may be checked from worker threads

    def retry_after(self, key: str) -> float:
        """0 if `key` may act now (and takes a token), else the seconds until it may."""
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                if len(self._buckets) > self.max_keys:
                    self._forget_idle(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate

    def check(self, key: str) -> None:
        """Take a token for `key`, or raise LIMIT_EXCEEDED saying when to retry."""
        wait = self.retry_after(key)
        if wait > 0:
            what = f"mutation rate ({self.rate:g}/s, bursts of {self.burst}) for {key[:60]!r}; retry in {wait:.1f} s"
            raise limit_error(what, "mutationRate", self.burst, retryAfterSeconds=round(wait, 1))

    def _forget_idle(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket: dropping it bounds memory.
        full = [k for k, (t, at) in self._buckets.items() if t + (now - at) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]


# --- request body size ------------------------------------------------------------------------------------------


class BodySizeLimit:
    """ASGI middleware answering 413, with a GraphQL error body, to HTTP requests over `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int = 1 << 20) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(headers, send)
            return
        # Read the body (up to the limit) before the app sees any of it, so it never parses half a request.
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)  # client went away: let the app see it
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = bool(message.get("more_body", False))
            if size > self.max_bytes:
                await self._refuse(headers, send)
                return
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)

    async def _refuse(self, headers: dict[bytes, bytes], send: Send) -> None:
        media = "application/graphql-response+json"
        if media.encode() not in headers.get(b"accept", b""):
            media = "application/json"
        message = f"request body is over the limit of {self.max_bytes:,} bytes (maxBodyBytes)"
        extensions = {"code": "LIMIT_EXCEEDED", "limit": "maxBodyBytes", "max": self.max_bytes}
        payload = json.dumps({"errors": [{"message": message, "extensions": extensions}]}).encode()
        response_headers = [(b"content-type", media.encode()), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": response_headers})
        await send({"type": "http.response.body", "body": payload})


def _replay(messages: list[Message], receive: Receive) -> Receive:
    async def replayed() -> Message:
        return messages.pop(0) if messages else await receive()

    return replayed

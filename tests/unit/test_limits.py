"""Limits: depth, aliases, tokens, cost, page size (literal and in variables), mutation rate, body size."""

from __future__ import annotations

import json
from typing import Any

import pytest
import strawberry
from graphql import GraphQLError, build_schema, get_introspection_query, parse, specified_rules, validate
from starlette.types import Message
from strawberry.extensions import ParserCache, ValidationCache

from service.limits import (
    BodySizeLimit,
    LimitConfig,
    RateLimiter,
    check_operation,
    limit_rules,
    limits_extension,
)

SDL = """
type Query {
  plans(partnership: String): [Plan!]!
  plan(id: ID!): Plan
  auditTrail(first: Int, after: String): AuditConnection!
}
type AuditConnection { edges: [AuditEdge!]! pageInfo: PageInfo! }
type AuditEdge { cursor: String! node: AuditEntry! }
type AuditEntry { position: Int! actor: String! measure: Measure }
type PageInfo { hasNextPage: Boolean! }
type Plan { id: ID! title: String! measures: [Measure!]! }
type Measure { id: ID! number: String! plan: Plan! quarters: [QuarterResult!]! history(first: Int): [Revision!]! }
type QuarterResult { quarter: String! }
type Revision { actor: String! }
"""
SCHEMA = build_schema(SDL)
RULES = limit_rules()


def errors(document: str, rules: Any = RULES) -> list[GraphQLError]:
    found = validate(SCHEMA, parse(document), rules)
    assert all(e.extensions and e.extensions["code"] == "LIMIT_EXCEEDED" for e in found), found
    return found


def limits_hit(document: str) -> set[str]:
    return {str(e.extensions["limit"]) for e in errors(document) if e.extensions}


def cost(document: str, **variables: Any) -> int:
    ast = parse(document)
    config = LimitConfig(max_cost=10**30)
    operation = ast.definitions[0]
    assert not check_operation(SCHEMA, ast, operation, config, variables)  # type: ignore[arg-type]
    from service.limits import _DepthAndCost

    return _DepthAndCost(SCHEMA, ast, config, variables).cost(operation.selection_set, SCHEMA.query_type)  # type: ignore[attr-defined]


def below_plan(depth: int) -> str:
    """A selection on Plan `depth` fields deep: measures { plan { measures { ... id } } }."""
    names = (["measures", "plan"] * depth)[: depth - 1]
    return " { ".join(names) + (" { " if names else "") + "id" + " }" * len(names)


def nested(depth: int) -> str:
    """A query `depth` fields deep."""
    return "{ plan(id: 1) { " + below_plan(depth - 1) + " } }"


def test_depth_50_is_refused_naming_the_limit() -> None:
    (error,) = [e for e in errors(nested(50)) if e.extensions and e.extensions["limit"] == "maxDepth"]
    assert error.message == "query depth is 50, over the limit of 12 (maxDepth)"
    assert error.extensions == {"code": "LIMIT_EXCEEDED", "limit": "maxDepth", "max": 12, "found": 50}


def test_depth_limit_boundary() -> None:
    assert "maxDepth" not in limits_hit(nested(12))
    assert "maxDepth" in limits_hit(nested(13))


def test_depth_counts_through_fragments() -> None:
    document = "{ plan(id: 1) { ...P } } fragment P on Plan { measures { plan { ...Q } } } fragment Q on Plan { %s }"
    assert "maxDepth" not in limits_hit(document % below_plan(9))
    assert "maxDepth" in limits_hit(document % below_plan(10))


def test_1000_aliases_are_refused() -> None:
    document = "{ " + " ".join(f"a{i}: plan(id: {i}) {{ id }}" for i in range(1000)) + " }"
    found = {e.extensions["limit"]: e.message for e in errors(document) if e.extensions}
    assert found["maxAliases"] == "number of aliases is 1,000, over the limit of 30 (maxAliases)"
    assert "maxTokens" in found


def test_alias_limit_boundary() -> None:
    def aliased(n: int) -> str:
        return "{ " + " ".join(f"a{i}: plan(id: {i}) {{ id }}" for i in range(n)) + " }"

    assert errors(aliased(30)) == []
    assert limits_hit(aliased(31)) == {"maxAliases"}


def test_token_limit_counts_lexical_tokens_not_comments() -> None:
    rules = limit_rules(LimitConfig(max_tokens=11))
    assert errors("{ plan(id: 1) { id } }", rules) == []  # 11 tokens
    comments = "# a comment\n" * 100
    assert errors(comments + "{ plan(id: 1) { id } }", rules) == []
    (error,) = errors("{ plan(id: 1) { id title } }", rules)
    assert error.message == "number of tokens is over the limit of 11 (maxTokens)"


def test_a_page_of_a_million_is_refused() -> None:
    (error,) = errors("{ auditTrail(first: 1000000) { edges { cursor } } }")
    assert error.message == "page size of auditTrail is 1,000,000, over the limit of 500 (maxPageSize)"
    assert error.extensions == {
        "code": "LIMIT_EXCEEDED",
        "limit": "maxPageSize",
        "max": 500,
        "found": 1_000_000,
        "field": "first",
    }


def test_the_largest_page_is_allowed() -> None:
    assert errors("{ auditTrail(first: 500) { edges { cursor node { position } } } }") == []


def test_a_variable_default_page_size_is_checked_in_validation() -> None:
    document = "query($n: Int = 501) { auditTrail(first: $n) { edges { cursor } } }"
    assert limits_hit(document) == {"maxPageSize"}


def test_cost_counts_objects_times_page_sizes() -> None:
    assert cost("{ plan(id: 1) { id title } }") == 1  # scalars are free
    assert cost("{ plans { measures { id } } }") == 10 * (1 + 10 * 1)  # default list weight 10
    assert cost("{ plan(id: 1) { measures { quarters { quarter } } } }") == 1 + 10 * (1 + 4 * 1)  # known: 4 quarters
    # A connection's `first` sizes its edges; nested lists multiply.
    audit = (
        "{ auditTrail(first: 20) { pageInfo { hasNextPage } "
        "edges { node { measure { history(first: 3) { actor } } } } } }"
    )
    assert cost(audit) == 1 + 1 + 20 * (1 + 1 + 1 + 3 * 1)
    assert cost("query($n: Int) { auditTrail(first: $n) { edges { cursor } } }", n=7) == 1 + 7


def test_a_negative_page_does_not_lower_the_cost() -> None:
    assert cost("{ a: auditTrail(first: -100000) { edges { cursor } } b: plan(id: 1) { id } }") == 1 + 1


def test_an_expensive_query_is_refused_with_its_cost() -> None:
    document = "{ plans { measures { plan { measures { plan { measures { plan { measures { id } } } } } } } } }"
    (error,) = errors(document)
    assert error.message == "query cost is 122,210, over the limit of 20,000 (maxCost)"


@pytest.mark.timeout(10, func_only=True)  # measured fragment by fragment, not path by path: 2**40 paths would never end
def test_a_fragment_bomb_is_measured_quickly() -> None:
    fragments = " ".join(
        f"fragment F{i} on Plan {{ measures {{ plan {{ ...F{i + 1} }} }} a: measures {{ plan {{ ...F{i + 1} }} }} }}"
        for i in range(40)
    )
    document = "{ plan(id: 1) { ...F0 } } " + fragments + " fragment F40 on Plan { id }"
    hit = limits_hit(document)
    assert {"maxCost", "maxDepth", "maxAliases"} <= hit


@pytest.mark.timeout(10, func_only=True)
def test_fragment_cycles_do_not_hang() -> None:
    document = "{ plan(id: 1) { ...A } } fragment A on Plan { measures { plan { ...B } } } fragment B on Plan { ...A }"

    within_limits = errors(document)
    refused = validate(SCHEMA, parse(document), [*specified_rules, *RULES])

    # The limits count a cycle as nothing and end; the standard rules refuse the document for it.
    assert within_limits == []
    assert [e.message for e in refused] == ["Cannot spread fragment 'A' within itself via 'B'."]


def test_introspection_is_not_limited() -> None:
    assert errors(get_introspection_query(descriptions=True)) == []


def test_limit_rules_are_classes_bound_to_the_config() -> None:
    config = LimitConfig(max_depth=3)
    rules = limit_rules(config)
    assert all(isinstance(r, type) and r.config is config for r in rules)  # type: ignore[attr-defined]
    refused = validate(SCHEMA, parse(nested(4)), rules)
    assert [e.extensions["limit"] for e in refused if e.extensions] == ["maxDepth"]
    assert limits_hit(nested(4)) == set()  # the module's RULES, bound to the defaults at import, are unchanged


# --- the Strawberry extension -------------------------------------------------------------------------------------


@strawberry.type
class Item:
    n: int


@strawberry.type
class Query:
    @strawberry.field
    def items(self, first: int = 10) -> list[Item]:
        return [Item(n=i) for i in range(first)]


LIMITS = limits_extension(LimitConfig(max_page_size=50, max_cost=100))
STRAWBERRY = strawberry.Schema(
    query=Query, extensions=[lambda: ParserCache(maxsize=64), lambda: ValidationCache(maxsize=64), LIMITS]
)


async def test_page_sizes_in_variables_are_checked_at_execution() -> None:
    document = "query($n: Int!) { items(first: $n) { n } }"
    ok = await STRAWBERRY.execute(document, variable_values={"n": 3})
    assert ok.errors is None and ok.data == {"items": [{"n": 0}, {"n": 1}, {"n": 2}]}
    refused = await STRAWBERRY.execute(document, variable_values={"n": 1_000_000})
    assert refused.data is None and refused.errors is not None
    assert refused.errors[0].message == "page size of items is 1,000,000, over the limit of 50 (maxPageSize)"
    assert refused.errors[0].extensions == {
        "field": "first",
        "code": "LIMIT_EXCEEDED",
        "limit": "maxPageSize",
        "max": 50,
        "found": 1_000_000,
    }


async def test_cost_with_variables_is_checked_at_execution() -> None:
    # Validation, cached per document, costs `$n` at the default list weight: 3 × 10 = 30.
    document = "query($n: Int!) { a: items(first: $n) { n } b: items(first: $n) { n } c: items(first: $n) { n } }"
    assert (await STRAWBERRY.execute(document, variable_values={"n": 33})).errors is None  # 99
    over = await STRAWBERRY.execute(document, variable_values={"n": 34})  # 102
    assert over.data is None and over.errors is not None
    assert over.errors[0].message == "query cost is 102, over the limit of 100 (maxCost)"


async def test_limits_are_validation_errors_with_their_code() -> None:
    result = await STRAWBERRY.execute("{ items(first: 51) { n } }")
    assert result.data is None and result.errors is not None
    assert result.errors[0].extensions == {
        "code": "LIMIT_EXCEEDED",
        "limit": "maxPageSize",
        "max": 50,
        "found": 51,
        "field": "first",
    }


async def test_the_validation_cache_still_hits(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    for rule in LIMITS.rules:  # type: ignore[attr-defined]
        original = rule.__init__

        def counting(self: Any, context: Any, _original: Any = original, _name: str = rule.__name__) -> None:
            made.append(_name)
            _original(self, context)

        monkeypatch.setattr(rule, "__init__", counting)
    document = "query CacheProbe { items(first: 2) { n } }"
    for _ in range(20):
        assert (await STRAWBERRY.execute(document)).errors is None
    assert len(made) == len(LIMITS.rules)  # type: ignore[attr-defined]  # built for the first execution only


def test_the_served_schema_accepts_the_frontends_documents() -> None:
    from service.schema import build_schema as build_served_schema
    from tests.e2e import documents

    served = build_served_schema()._schema
    sent = {name: value for name, value in vars(documents).items() if name.isupper() and "{" in value}
    assert len(sent) > 10
    for name, document in sent.items():
        if name == "MEASURE_FIELDS":
            continue
        assert validate(served, parse(document), RULES) == [], name


# --- mutation rate --------------------------------------------------------------------------------------------------


def test_rate_limiter_allows_a_burst_then_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=0.5, burst=3, clock=lambda: now[0])
    for _ in range(3):
        limiter.check("alice")
    with pytest.raises(GraphQLError) as e:
        limiter.check("alice")
    assert e.value.extensions == {
        "code": "LIMIT_EXCEEDED",
        "limit": "mutationRate",
        "max": 3,
        "retryAfterSeconds": 2.0,
    }
    assert "mutation rate (0.5/s, bursts of 3) for 'alice'" in e.value.message
    limiter.check("bob")  # each principal has its own bucket
    now[0] = 2.0
    limiter.check("alice")
    with pytest.raises(GraphQLError):
        limiter.check("alice")


def test_rate_limiter_forgets_idle_principals() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=1, burst=1, clock=lambda: now[0], max_keys=10)
    for i in range(10):
        limiter.check(f"p{i}")
    now[0] = 5.0
    limiter.check("late")
    assert len(limiter._buckets) == 1


def test_rate_limiter_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate=0, burst=1)


# --- request body size ----------------------------------------------------------------------------------------------


async def call(app: Any, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes, list[Any]]:
    incoming: list[Message] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "http", "method": "POST", "path": "/graphql", "headers": headers}, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, start["headers"]


async def echo(scope: Any, receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    status, body, _ = await call(BodySizeLimit(echo, max_bytes=10), [b"12345", b"67890"], [])
    assert (status, body) == (200, b"1234567890")


async def test_a_declared_oversized_body_is_refused_unread() -> None:
    status, body, headers = await call(BodySizeLimit(echo, max_bytes=10), [b"x" * 11], [(b"content-length", b"11")])
    assert status == 413
    assert json.loads(body) == {
        "errors": [
            {
                "message": "request body is over the limit of 10 bytes (maxBodyBytes)",
                "extensions": {"code": "LIMIT_EXCEEDED", "limit": "maxBodyBytes", "max": 10},
            }
        ]
    }
    assert (b"content-type", b"application/json") in headers


async def test_a_streamed_oversized_body_is_refused() -> None:
    accept = [(b"accept", b"application/graphql-response+json")]
    status, _, headers = await call(BodySizeLimit(echo, max_bytes=10), [b"123456", b"789012"], accept)
    assert status == 413
    assert (b"content-type", b"application/graphql-response+json") in headers


async def test_websockets_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    async def nothing() -> Message:
        return {}

    async def ignore(message: Message) -> None:
        return None

    await BodySizeLimit(app, 1)({"type": "websocket"}, nothing, ignore)
    assert seen == ["websocket"]

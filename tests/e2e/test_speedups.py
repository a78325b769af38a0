"""The speed-ups change nothing but speed: two servers on one database, one with them and one without
(ML_SPEEDUPS=0), give byte-for-byte the same answers over the demo plan: a dashboard, time travel,
history, the audit trail, fragments and directives, errors, mutation payloads, and subscriptions."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from graphql import FieldNode, FragmentDefinitionNode, OperationDefinitionNode, parse
from starlette.routing import Route
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bench.latency import DASHBOARD
from service.app import create_app
from service.auth.tokens import create_token
from service.settings import Settings
from service.speedups import LedgerExecutionContext, live_delivery, parallel_writes
from service.speedups.compiled_reads import compile_object
from service.ws import LedgerTransportWSHandler
from tests.conftest import DatabaseFactory
from tests.e2e import documents as doc
from tests.e2e.demo import import_demo, wait_for_read_model
from tests.e2e.live import LiveServer
from tests.e2e.principals import FROM_THE_START
from tests.e2e.ws_client import PROTOCOL, GraphQLWebSocket, graphql_ws

PARTNERSHIP = "Safer Stockton Partnership"
EVERYTHING = (
    """query($id: ID!) {
  plan(id: $id) {
    id title partnership year period { start end } discrepancyThreshold version createdAt createdBy modifiedAt
    themes { id code title measures { id number components { id key figures { id quarter change } } } }
    measures {
      ...MeasureFields
      description modifiedAt plan { id title } theme { id code title }
      components { id baseline { id profile recordedAt numerator denominator discrepancyReason }
                   baselineHistory { id } figures { id } }
      quarters { id commentaryRecordedAt commentaryRecordedBy
                 components { figure { id quarter measured changeExact recordedAt status rule rate progress
                   baseline { id value } history(first: 2) { nodes { action changes { field before after } } } } } }
      history { id position cursor recordedAt actor action component quarter field before after reason }
      historyConnection(first: 2) { edges { cursor node { id position action } }
                                    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }
      returns { id quarter state }
    }
    collections { id quarter }
  }
}"""
    + doc.MEASURE_FIELDS
)
ONE_MEASURE = (
    """query($id: ID!, $asOf: DateTime) { measure(id: $id, asOf: $asOf) {
  ...MeasureFields history { position actor action field before after reason } } }"""
    + doc.MEASURE_FIELDS
)
PLAN_AS_OF = (
    """query($id: ID!, $asOf: DateTime) { plan(id: $id, asOf: $asOf) { version modifiedAt
  measures { ...MeasureFields } } }"""
    + doc.MEASURE_FIELDS
)
SHAPES = """query($id: ID!, $yes: Boolean!, $no: Boolean!) {
  plans { id title __typename measures { number status } }
  p: plan(id: $id) { __typename
    measures {
      n: number s: status @include(if: $yes) t: title @skip(if: $yes)
      components @include(if: $yes) { key ...Figures figures @skip(if: $no) { quarter q2: quarter } }
      quarters { ... on QuarterResult { quarter components { key figure { ...Value } } } }
      other: components { label baseline @include(if: $no) { value } }
    }
  }
}
fragment Figures on Component { figures { ...Value status __typename } }
fragment Value on Figure { value change }"""
AUDIT_PAGE = """query($filter: AuditFilter, $first: Int, $after: String) {
  auditTrail(filter: $filter, first: $first, after: $after) {
    edges { cursor node { position recordedAt actor action planId measureId measureNumber component quarter
                          field before after reason } }
    nodes { id position }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
  auditDigest { position hash }
}"""
# Every field compiled_reads.py answers in SQL, with aliases, __typename and a fragment: one statement.
COMPILED = """query($id: ID!) { plan(id: $id) {
  __typename id partnership title year period { start end } discrepancyThreshold version createdAt createdBy modifiedAt
  themes { planId code title }
  all: measures { ...Compiled kind: __typename }
} }
fragment Compiled on Measure {
  id planId themeCode number title description direction basis tolerance unit status version modifiedAt
  components { key label
    baseline { value numerator denominator period note isReset reason recordedAt recordedBy discrepancy
               discrepancyReason rate }
    baselineHistory { value isReset reason recordedAt }
    figures { component quarter value numerator denominator available unavailableReason measured comparisonValue
              changeExact status rule reportedChange discrepancy discrepancyReason commentary revision reason
              recordedAt recordedBy change rate progress baseline { value rate isReset } } }
  quarters { quarter status computedStatus override { status reason recordedBy recordedAt } commentary
             commentaryRecordedAt commentaryRecordedBy components { key figure { value change status quarter } } }
}"""
PLANS_PAGE = """query($first: Int, $after: String) {
  plansConnection(first: $first, after: $after) {
    edges { cursor node { id title themes { id } } }
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""
STATUS_CHANGED = """subscription($planId: ID, $after: String) {
  statusChanged(planId: $planId, after: $after) {
    id cursor position recordedAt actor planId measureId measureNumber quarter from to reason } }"""
LEDGER_EVENTS = """subscription($planId: ID, $after: String) {
  ledgerEvents(planId: $planId, after: $after) {
    id cursor position recordedAt actor action planId measureId component quarter field before after reason } }"""


@dataclass
class Twins:
    """The same database served with the speed-ups (`fast`) and without (`plain`)."""

    fast: str
    plain: str
    token: str
    viewer: str
    plan_id: str
    measure_id: str  # 5.1, which the fixture changed
    before_changes: str  # a moment between the import and the changes
    stranger: str = ""  # a viewer of another partnership

    def post(self, url: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        headers = {"authorization": f"Bearer {token or self.token}", "accept": "application/json"}
        response = httpx.post(
            url + "/graphql", json={"query": query, "variables": variables or {}}, headers=headers, timeout=60
        )
        assert response.status_code < 500, response.text
        return response.status_code, response.json()

    def both(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        """The answer both servers give; fails if they differ."""
        fast, plain = self.post(self.fast, query, variables, token), self.post(self.plain, query, variables, token)
        assert json.dumps(fast, sort_keys=False) == json.dumps(plain, sort_keys=False)
        return fast[1]


def _graphql_endpoint(app: Any) -> Any:
    return next(r.endpoint for r in app.routes if isinstance(r, Route) and r.path == "/graphql")


@pytest.fixture(scope="module")
def twins(new_database: DatabaseFactory) -> Iterator[Twins]:
    database_url = new_database()
    plan_id, position = import_demo(database_url)
    # Without the response cache, every answer is executed.
    fast_app = create_app(Settings(database_url=database_url, load_demo=False, response_cache=False))
    plain_app = create_app(
        Settings(database_url=database_url, load_demo=False, speedups=False, run_projection=False, response_cache=False)
    )
    assert _graphql_endpoint(fast_app).schema.execution_context_class is LedgerExecutionContext
    assert _graphql_endpoint(plain_app).schema.execution_context_class is not LedgerExecutionContext
    fast, plain = LiveServer(fast_app).start(), LiveServer(plain_app).start()
    try:
        wait_for_read_model(fast.url, position)
        token = create_token(database_url, "auditor@stockton.gov.uk")
        viewer = create_token(database_url, "viewer@stockton.gov.uk", partnership=PARTNERSHIP, roles=["viewer"])
        twins = Twins(fast.url, plain.url, token, viewer, str(plan_id), "", datetime.now(UTC).isoformat())
        twins.stranger = create_token(
            database_url, "viewer@elsewhere.gov.uk", partnership="Elsewhere", roles=["viewer"]
        )
        measures = twins.both("query($id: ID!) { plan(id: $id) { measures { id number } } }", {"id": twins.plan_id})
        twins.measure_id = next(m["id"] for m in measures["data"]["plan"]["measures"] if m["number"] == "5.1")
        _change(twins)
        yield twins
    finally:
        fast.stop()
        plain.stop()


def _change(twins: Twins) -> None:
    """A revision, an override, a commentary and an unavailable figure, through the server with the speed-ups,
    after Q1 and Q2 are reopened (the demo published them)."""
    measure = {"measureId": twins.measure_id}
    for document, given in [
        (doc.REOPEN_RETURN, {"quarter": "Q1", "reason": "a late surge"}),
        (doc.REOPEN_RETURN, {"quarter": "Q2", "reason": "late crimes"}),
        (
            doc.REVISE_FIGURE,
            {"component": "criminal-damage", "quarter": "Q2", "value": "1001", "reason": "late crimes"},
        ),
        (doc.OVERRIDE_STATUS, {"quarter": "Q2", "status": "AT_RISK", "reason": "a late surge is expected"}),
        (doc.UPDATE_COMMENTARY, {"quarter": "Q3", "text": "Figures due in January."}),
        (doc.MARK_UNAVAILABLE, {"component": "criminal-damage", "quarter": "Q3", "reason": "system migration"}),
    ]:
        status, body = twins.post(twins.fast, document, {"input": {**measure, **given}})
        assert status == 200 and "errors" not in body, body


def test_the_whole_demo_plan_reads_the_same(twins: Twins) -> None:
    data = twins.both(EVERYTHING, {"id": twins.plan_id})["data"]
    assert len(data["plan"]["measures"]) == 17
    assert any(m["history"] for m in data["plan"]["measures"])


def test_one_measure_and_its_history_read_the_same_now_and_before_the_changes(twins: Twins) -> None:
    now = twins.both(ONE_MEASURE, {"id": twins.measure_id})["data"]["measure"]
    then = twins.both(ONE_MEASURE, {"id": twins.measure_id, "asOf": twins.before_changes})["data"]["measure"]
    assert now["version"] > then["version"]
    assert twins.both(PLAN_AS_OF, {"id": twins.plan_id, "asOf": twins.before_changes})["data"]["plan"]
    assert twins.both(PLAN_AS_OF, {"id": twins.plan_id, "asOf": "2000-01-01T00:00:00Z"})["data"]["plan"] is None


def test_the_reporting_cycle_reads_the_same_now_as_published_and_since(twins: Twins) -> None:
    now = twins.both(doc.PUBLISHED_PLAN, {"id": twins.plan_id})["data"]["plan"]
    q1, q2 = (p["id"] for p in now["publications"])
    assert twins.both(doc.PUBLISHED_PLAN, {"id": twins.plan_id, "publication": q1})["data"]["plan"]
    assert twins.both(doc.CHANGES_SINCE, {"id": q2, "first": 5})["data"]["changesSince"]["nodes"]
    for quarter in ("Q2", "Q3"):
        assert twins.both(doc.RETURNS, {"planId": twins.plan_id, "quarter": quarter})["data"]["returns"]


def test_fragments_aliases_and_directives_read_the_same(twins: Twins) -> None:
    for yes in (True, False):
        assert twins.both(SHAPES, {"id": twins.plan_id, "yes": yes, "no": not yes})["data"]["p"]


@pytest.mark.parametrize("query", [COMPILED, DASHBOARD], ids=["every-compiled-field", "dashboard"])
def test_a_plan_read_by_one_statement_reads_the_same(twins: Twins, query: str) -> None:
    operation = parse(query).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    root = operation.selection_set.selections[0]
    assert isinstance(root, FieldNode)
    fragments = {d.name.value: d for d in parse(query).definitions if isinstance(d, FragmentDefinitionNode)}
    assert compile_object("Plan", root.selection_set, fragments) is not None  # the speed-up answers it in SQL
    plan = twins.both(query, {"id": twins.plan_id})["data"]["plan"]
    measures = plan.get("all") or plan["measures"]
    quarters = [q for m in measures for q in m["quarters"]]
    figures = [f for m in measures for c in m["components"] for f in c["figures"]]
    assert len(measures) == 17 and any(q["override"] for q in quarters) and any(f["value"] is None for f in figures)
    # No such plan, and a plan of another partnership, answered as the resolvers answer them.
    assert twins.both(query, {"id": "00000000-0000-0000-0000-000000000000"})["data"]["plan"] is None
    refused = twins.both(query, {"id": twins.plan_id}, twins.stranger)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_the_audit_trail_pages_the_same(twins: Twins) -> None:
    after = None
    for _ in range(3):
        page = twins.both(AUDIT_PAGE, {"filter": {"planId": twins.plan_id}, "first": 40, "after": after})
        after = page["data"]["auditTrail"]["pageInfo"]["endCursor"]
    newest = {"filter": {"measureId": twins.measure_id, "order": "NEWEST_FIRST"}, "first": 3}
    assert twins.both(AUDIT_PAGE, newest)["data"]["auditTrail"]["nodes"]


def test_status_changes_page_the_same(twins: Twins) -> None:
    query = """query($planId: ID, $first: Int, $after: String) {
      statusChanges(planId: $planId, first: $first, after: $after) {
        edges { cursor node { id cursor position recordedAt actor planId measureId measureNumber quarter from to
                              reason } }
        nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
    after = None
    for _ in range(3):
        page = twins.both(query, {"planId": twins.plan_id, "first": 7, "after": after})["data"]["statusChanges"]
        assert page["nodes"]
        after = page["pageInfo"]["endCursor"]


def test_the_plans_page_the_same(twins: Twins) -> None:
    first = twins.both(PLANS_PAGE, {"first": 1})["data"]["plansConnection"]
    assert [p["id"] for p in first["nodes"]] == [twins.plan_id]
    after = first["pageInfo"]["endCursor"]
    assert twins.both(PLANS_PAGE, {"first": 1, "after": after})["data"]["plansConnection"]["nodes"] == []


@pytest.mark.parametrize(
    "query, variables, code",
    [
        ("query($id: ID!) { measure(id: $id) { id } }", {"id": "not-an-id"}, "VALIDATION"),
        (ONE_MEASURE, {"id": "00000000-0000-0000-0000-000000000000"}, None),
        (ONE_MEASURE, {"id": "MEASURE", "asOf": "2012-09-25T09:00:00"}, "VALIDATION"),
        (AUDIT_PAGE, {"first": 501}, "LIMIT_EXCEEDED"),
        (doc.SUBMIT_FIGURE, {"input": {"measureId": "MEASURE", "component": "x", "quarter": "Q5"}}, "VALIDATION"),
        (
            doc.SUBMIT_FIGURE,
            {"input": {"measureId": "MEASURE", "component": "criminal-damage", "quarter": "Q2", "value": "5"}},
            "VALIDATION",
        ),  # fmt: skip
    ],
)
def test_errors_are_the_same(twins: Twins, query: str, variables: dict[str, Any], code: str | None) -> None:
    given = json.loads(json.dumps(variables).replace("MEASURE", twins.measure_id))
    body = twins.both(query, given)
    assert [e["extensions"]["code"] for e in body.get("errors", [])][:1] == ([code] if code else [])


def test_a_field_the_caller_may_not_read_fails_the_same_way(twins: Twins) -> None:
    query = "query($id: ID!) { plan(id: $id) { measures { number status history { action } } } }"
    body = twins.both(query, {"id": twins.plan_id}, twins.viewer)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_mutation_payload_is_the_same(twins: Twins) -> None:
    given = {"measureId": twins.measure_id, "component": "criminal-damage", "quarter": "Q4", "value": "900"}
    variables = {"input": {**given, "idempotencyKey": "compare-payloads"}}
    first = twins.post(twins.fast, doc.SUBMIT_FIGURE, variables)[1]["data"]["submitFigure"]
    # The same key again on each: the first result, replayed, as each server builds it.
    replayed = twins.both(doc.SUBMIT_FIGURE, variables)["data"]["submitFigure"]
    assert replayed == {**first, "replayed": True}


async def test_subscriptions_replay_and_deliver_the_same_messages(twins: Twins) -> None:
    init = {"Authorization": f"Bearer {twins.token}"}
    feeds = [
        ("statusChanged", STATUS_CHANGED, FROM_THE_START["statusChanged"]),
        ("ledgerEvents", LEDGER_EVENTS, FROM_THE_START["ledgerEvents"]),
    ]
    async with graphql_ws(_ws(twins.fast), init) as fast, graphql_ws(_ws(twins.plain), init) as plain:
        for ws in (fast, plain):
            for name, query, start in feeds:
                await ws.subscribe(f"{name}-replay", query, {"planId": twins.plan_id, "after": start})
                # Two live subscribers of one operation: the speed-ups execute its messages once for both.
                for n in (1, 2):
                    await ws.subscribe(f"{name}-live-{n}", query, {"planId": twins.plan_id})
        replays = [{name: await _all(ws, f"{name}-replay", name) for name, _, _ in feeds} for ws in (fast, plain)]
        assert replays[0] == replays[1] and replays[0]["statusChanged"] and replays[0]["ledgerEvents"]
        # One write, received live on both servers.
        other = _flip(twins, "Q1", "seen live")
        live = [{f"{name}-{n}": await ws.take(f"{name}-live-{n}", 1, name) for name, _, _ in feeds for n in (1, 2)}
                for ws in (fast, plain)]  # fmt: skip
    assert live[0] == live[1]
    assert live[0]["statusChanged-1"] == live[0]["statusChanged-2"] and live[0]["statusChanged-1"][0]["to"] == other


def _flip(twins: Twins, quarter: str, reason: str) -> str:
    """Override a quarter's status of measure 5.1 to another than it has: one status change. Returns the new one."""
    now = twins.both(ONE_MEASURE, {"id": twins.measure_id})["data"]["measure"]
    status = next(q["status"] for q in now["quarters"] if q["quarter"] == quarter)
    other = next(s for s in ("ON_TRACK", "AT_RISK", "OFF_TRACK") if s != status)
    given = {"measureId": twins.measure_id, "quarter": quarter, "status": other, "reason": reason}
    answered, body = twins.post(twins.fast, doc.OVERRIDE_STATUS, {"input": given})
    assert answered == 200 and "errors" not in body, body
    return other


def _ws(url: str) -> str:
    return url.replace("http://", "ws://") + "/graphql"


async def _all(ws: Any, op_id: str, field: str) -> list[Any]:
    """Every message an operation sends until it has been quiet for a second."""
    messages = []
    while True:
        try:
            message = await ws.receive(op_id, 1)
        except TimeoutError:
            return messages
        assert message["type"] == "next" and "errors" not in message["payload"], message
        messages.append(message["payload"]["data"][field])


SHAPED_CHANGE = """subscription Shaped($planId: ID, $full: Boolean!) {
  changed: statusChanged(planId: $planId) { ...Change reason @include(if: $full) __typename } }
fragment Change on StatusChange { position q: quarter to }"""
OVER_THE_SOCKET: list[tuple[str, dict[str, Any]]] = [
    (STATUS_CHANGED, {"after": "not a cursor!"}),  # an error from the resolver
    ("subscription { statusChanged { nope } }", {}),  # not valid
    ("subscription { statusChanged {", {}),  # does not parse
    ("query($id: ID!) { plan(id: $id) { id title } }", {}),  # a query over the socket
    (STATUS_CHANGED, {"planId": 7}),  # a variable of the wrong type
]


async def _frames(ws: Any, wait: float = 1) -> list[str]:
    """Every frame the server sends until it has been quiet for `wait` seconds, as sent."""
    frames = []
    while True:
        try:
            frames.append(await asyncio.wait_for(ws.recv(), wait))
        except TimeoutError:
            return frames


@asynccontextmanager
async def _acknowledged(url: str, token: str, compression: str | None) -> AsyncIterator[GraphQLWebSocket]:
    async with connect(_ws(url), subprotocols=[PROTOCOL], compression=compression, open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "connection_ack", "payload": None}
        yield GraphQLWebSocket(ws)


@pytest.mark.parametrize("compression", ["deflate", None], ids=["compressed", "uncompressed"])
async def test_subscription_messages_are_the_same_frame_for_frame(twins: Twins, compression: str | None) -> None:
    """graphql-transport-ws without Strawberry's handler (speedups/live_delivery.py) sends what it sends, whether
    its frames are written to the socket as they are or through permessage-deflate."""
    async with _acknowledged(twins.fast, twins.token, compression) as fast:
        # The fast server serves the socket itself, not through Strawberry's handler.
        assert [type(c) for c in LedgerTransportWSHandler.connections] == [live_delivery.Connection]
        async with _acknowledged(twins.plain, twins.token, compression) as plain:
            sockets = (fast, plain)
            for ws in sockets:
                await ws.ws.send(json.dumps({"type": "ping"}))
                for n, (query, variables) in enumerate(OVER_THE_SOCKET):
                    await ws.subscribe(f"other-{n}", query, {"id": twins.plan_id, **variables})
                for n, full in ((1, True), (2, False), (3, True)):
                    await ws.subscribe(f"shaped-{n}", SHAPED_CHANGE, {"planId": twins.plan_id, "full": full})
                await ws.subscribe("stranger", STATUS_CHANGED, {"planId": twins.plan_id})
                await ws.subscribe("gone", STATUS_CHANGED, {"planId": twins.plan_id})
                await ws.complete("gone")
            # Operations run side by side: each one's messages in order, not the operations'. (A compiled read's
            # JSON is set in as PostgreSQL wrote it: the same values, spaced otherwise.)
            before = [sorted(json.dumps(json.loads(frame)) for frame in await _frames(ws.ws)) for ws in sockets]
            assert before[0] == before[1]
            assert len(before[0]) == 1 + len(OVER_THE_SOCKET) + 1  # pong, one each, the query's `complete`
            _flip(twins, "Q4", "live frames")
            live = [sorted(await _frames(ws.ws)) for ws in sockets]
    assert live[0] == live[1]
    shaped = {message["id"]: message["payload"] for message in map(json.loads, live[0])}
    assert set(shaped) == {"shaped-1", "shaped-2", "shaped-3", "stranger"}
    assert shaped["shaped-1"] == shaped["shaped-3"] and "reason" not in shaped["shaped-2"]["data"]["changed"]


@pytest.mark.parametrize(
    ("messages", "token"),
    [
        ([{"type": "connection_init", "payload": {"Authorization": "Bearer mlt_0000_forged"}}], "forged"),
        ([{"type": "subscribe", "id": "1", "payload": {"query": STATUS_CHANGED}}], "before init"),
        ([{"type": "connection_init", "payload": None}], "null payload"),
        ([{"type": "connection_init"}, {"type": "connection_init"}], "twice"),
        ([{"type": "connection_init"}, {"type": "who knows"}], "unknown type"),
        ([{"type": "connection_init"}, {"id": "1"}], "no type"),
        ([{"type": "connection_init"}, {"type": "subscribe", "id": "1", "payload": {}}], "no query"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
async def test_a_connection_is_closed_the_same_way(twins: Twins, messages: list[Any], token: str) -> None:
    closed = []
    for url in (twins.fast, twins.plain):
        headers = {"Authorization": f"Bearer {twins.token}"}
        async with connect(_ws(url), subprotocols=[PROTOCOL], additional_headers=headers, open_timeout=10) as ws:
            for message in messages:
                await ws.send(json.dumps(message))
            frames = []
            with pytest.raises(ConnectionClosed) as ended:
                async with asyncio.timeout(10):
                    while True:
                        frames.append(await ws.recv())
        assert ended.value.rcvd is not None
        closed.append((frames, ended.value.rcvd.code, ended.value.rcvd.reason))
    assert closed[0] == closed[1]
    assert closed[0][1] >= 4400


async def test_a_subscriber_that_stops_reading_gets_every_message_in_order_once_it_reads_again(
    twins: Twins, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frames written straight to the socket (speedups/parallel_writes.py) until it takes no more: the rest waits in
    its transport's buffer, behind what was written, and arrives in order once the client reads again."""
    monkeypatch.setattr(parallel_writes, "SPLIT_FROM", 1)  # shared with the worker thread even for a few sockets
    init = {"Authorization": f"Bearer {twins.token}"}
    stalled = socket.create_connection(("127.0.0.1", int(twins.fast.rsplit(":", 1)[1])))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    operations = [f"events-{n}" for n in range(20)]  # the most a connection may have: 20 frames an event
    async with (
        graphql_ws(_ws(twins.fast), init) as witness,
        connect(
            _ws(twins.fast), sock=stalled, subprotocols=[PROTOCOL], compression=None, max_queue=1, open_timeout=10
        ) as ws,
    ):
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        await witness.subscribe("witness", LEDGER_EVENTS, {"planId": twins.plan_id})
        for op_id in operations:
            await ws.send(json.dumps({"type": "subscribe", "id": op_id, "payload": {
                "query": LEDGER_EVENTS, "variables": {"planId": twins.plan_id}}}))  # fmt: skip
        port = stalled.getsockname()[1]
        async with asyncio.timeout(10):
            while True:  # the server's side of the stalled socket, once subscribed
                served = [c for c in LedgerTransportWSHandler.connections
                          if c.protocol.transport.get_extra_info("peername")[1] == port]  # fmt: skip
                if served and len(served[0].operations) == len(operations):
                    break
                await asyncio.sleep(0.05)
        [connection] = served
        assert isinstance(connection, live_delivery.Connection) and connection.fd >= 0
        # Its send buffer small, as the kernel would otherwise let it grow to megabytes.
        connection.protocol.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        flips = [_flip(twins, ("Q1", "Q4")[n % 2], f"while stalled {n}") for n in range(12)]
        witnessed = [event["position"] for event in await _all(witness, "witness", "ledgerEvents")]
        assert len(witnessed) >= len(flips)
        # What the socket did not take waits in the transport's buffer.
        assert connection.protocol.transport.get_write_buffer_size() > 0
        frames = [json.loads(frame) for frame in await _frames(ws, 2)]
    received: dict[str, list[int]] = {}
    for message in frames:
        assert message["type"] == "next" and "errors" not in message["payload"], message
        received.setdefault(message["id"], []).append(message["payload"]["data"]["ledgerEvents"]["position"])
    assert received == {op_id: witnessed for op_id in operations}

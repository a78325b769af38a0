"""graphql-transport-ws on /graphql without a handler, a task or a stream per subscriber.

Strawberry's handler (service/ws.py) serves each connection with a task per
operation and each live message through about eight suspended layers per
subscriber: a stream of the feed, graphql-core's map of it, Strawberry's loop,
Starlette's and uvicorn's sends. Here a connection is one small object and the
coroutine that reads its messages; a `statusChanged` or `ledgerEvents`
subscription is one `LiveOperation` that the feed (service/fanout.py) offers its
rows to directly. After each batch of rows the feed has offered, every row is
executed once per distinct document and the variables its selection reads
(`Group`), encoded once, and each subscribed socket's frames of the batch written
in one go: straight to the socket, from two threads at once, where its transport
holds nothing (parallel_writes.py), else to its transport.

Everything else keeps Strawberry's path, operation by operation: a query or a
mutation sent over the socket, a document that does not parse or validate, a
subscription whose setup fails (its error is then Strawberry's, word for word).
The messages, their order, the close codes and the errors are those of
service/ws.py (tests/e2e/test_speedups.py compares the two frame by frame).

Only for uvicorn's `websockets-sansio` protocol (what `serve` runs), whose
transport a frame is written to; any other goes through Strawberry whole. A
subscriber falls behind when more than the feed's capacity of messages wait for
it: those of one batch, and those its socket has not yet sent (its transport's
buffer, counted in messages of the size just written).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
    parse,
    specified_rules,
)
from graphql.execution import create_source_event_stream
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.schema import validate_document
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from service.fanout import CAUGHT_UP, Feed, FellBehind, Filters, Key
from service.graphql_request import UnreadableJSON
from service.limits import token_refusal
from service.logs import request_id
from service.schema import LIMITS
from service.schema.context import Context
from service.schema.subscriptions.feeds import Live, failed, fell_behind, lean_streams
from service.speedups.parallel_writes import direct_fd, write_all
from service.speedups.shared_results import variables_below_root
from service.speedups.short_caches import LONGEST, PARSED_DOCUMENTS
from service.ws import LedgerTransportWSHandler, _coded, dumps

log = logging.getLogger(__name__)

SUBPROTOCOL = "graphql-transport-ws"
LIVE_FIELDS = frozenset({"statusChanged", "ledgerEvents"})


def frame(text: bytes) -> bytes:
    """An unmasked, unfragmented WebSocket text frame (RFC 6455 §5.2), as a server sends it."""
    n = len(text)
    if n < 126:
        return bytes((0x81, n)) + text
    if n < 1 << 16:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + text
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + text


class Plan:
    """A document the lean path serves: parsed and validated once, with its groups of live operations."""

    __slots__ = ("document", "groups", "operation_name", "shared_names")

    def __init__(self, document: DocumentNode, operation: OperationDefinitionNode, operation_name: str | None):
        self.document = document
        self.operation_name = operation_name
        fragments = {d.name.value: d for d in document.definitions if hasattr(d, "type_condition")}
        # The variables execution reads: the root field's arguments only choose the rows (the feed's filters).
        self.shared_names = variables_below_root(operation, fragments)
        self.groups: dict[str, Group] = {}


class Plans:
    """Documents by (text, operation name): a Plan, or None for one Strawberry's path serves."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.rules = (*specified_rules, *LIMITS.rules)
        self._plans: OrderedDict[tuple[str, str | None], Plan | None] = OrderedDict()

    def get(self, query: str, operation_name: str | None) -> Plan | None:
        key = (query, operation_name)
        if key in self._plans:
            self._plans.move_to_end(key)
            return self._plans[key]
        plan = self._plan(query, operation_name)
        if len(query) <= LONGEST:
            self._plans[key] = plan
            if len(self._plans) > PARSED_DOCUMENTS:
                self._plans.popitem(last=False)
        return plan

    def _plan(self, query: str, operation_name: str | None) -> Plan | None:
        if token_refusal(query, LIMITS.config):
            return None
        try:
            document = parse(query)
        except GraphQLError:
            return None
        if validate_document(self.schema._schema, document, self.rules):
            return None
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
            return None
        [root] = operation.selection_set.selections  # one root field: validated
        if not isinstance(root, FieldNode) or root.directives or root.name.value not in LIVE_FIELDS:
            return None
        return Plan(document, operation, operation_name)


class Group:
    """Live operations of one document whose selection reads the same variable values: each row is executed
    and encoded once for all of them."""

    __slots__ = ("executor", "key", "members", "plan")

    def __init__(self, plan: Plan, key: str, executor: Any) -> None:
        self.plan = plan
        self.key = key
        self.executor = executor
        self.members = 0

    def payload(self, row: Any) -> str:
        """The JSON of a `next` message's payload for one converted row."""
        result = self.executor.build_per_event_executor(row).execute_operation(False)
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [e.formatted for e in result.errors]
        if result.extensions:
            payload["extensions"] = result.extensions
        return dumps(_coded({"type": "next", "payload": payload})["payload"])

    def leave(self) -> None:
        self.members -= 1
        if self.members == 0 and self.plan.groups.get(self.key) is self:
            del self.plan.groups[self.key]


class Hub:
    """One feed's live operations' offers of a batch, written once the batch has been offered."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.offered: list[tuple[LiveOperation, tuple[Key, Any]]] = []
        self.behind: list[LiveOperation] = []
        feed.after_offers.append(self.write)

    def write(self) -> None:
        offered, self.offered = self.offered, []
        payloads: dict[tuple[int, int], str] = {}  # (id of the row, id of the group) -> JSON
        frames: dict[tuple[str, str], tuple[bytes, bytes]] = {}  # (payload JSON, operation id) -> text, frame
        # Offers come row by row, mostly of one document and operation id: the last message is the next one too.
        last: tuple[Any, Group | None, str] = (None, None, "")
        text = framed = b""
        direct: dict[Connection, bytes] = {}  # a socket's frames of the batch, written below
        sizes: list[tuple[LiveOperation, int]] = []
        for operation, (key, row) in offered:
            operation.pending = 0
            if operation.overflowed or key <= operation.delivered:
                continue
            group, op_id = operation.group, operation.id
            if row is not last[0] or group is not last[1] or op_id != last[2]:
                payload = payloads.get((id(row), id(group)))
                if payload is None:
                    payload = payloads[(id(row), id(group))] = group.payload(row)
                written = frames.get((payload, op_id))
                if written is None:
                    text = f'{{"id":{dumps(op_id)},"type":"next","payload":{payload}}}'.encode()
                    written = frames[(payload, op_id)] = (text, frame(text))
                text, framed = written
                last = (row, group, op_id)
            operation.delivered = key
            connection = operation.connection
            if connection.fd >= 0:
                direct[connection] = direct[connection] + framed if connection in direct else framed
                sizes.append((operation, len(framed)))
            else:
                # Messages still waiting in the socket's buffer, counted in messages of this size.
                operation.backlog = connection.write(text, framed) // len(framed)
        if direct:
            writes = []
            for connection, data in direct.items():
                transport = connection.open_transport()
                if transport is not None:
                    if transport.get_write_buffer_size():
                        transport.write(data)  # behind what it holds
                    else:
                        writes.append((transport, connection.fd, data))
            write_all(writes)
            for operation, size in sizes:
                operation.backlog = operation.connection.protocol.transport.get_write_buffer_size() // size
        behind, self.behind = self.behind, []
        for operation in behind:
            self.feed.fell_behind += 1
            operation.fell_behind()


HUBS: dict[int, Hub] = {}


def hub(feed: Feed) -> Hub:
    found = HUBS.get(id(feed))
    if found is None or found.feed is not feed:
        found = HUBS[id(feed)] = Hub(feed)
    return found


class LiveOperation:
    """One live subscription of one connection: offered its feed's matching rows, written by its hub."""

    __slots__ = (
        "backlog",
        "capacity",
        "connection",
        "delivered",
        "filters",
        "group",
        "hub",
        "id",
        "live",
        "overflowed",
        "pending",
    )

    def __init__(self, connection: Connection, op_id: str, group: Group, live: Live) -> None:
        self.connection = connection
        self.id = op_id
        self.group = group
        self.live = live
        self.filters: Filters = live.filters
        self.hub = hub(live.feed)
        self.delivered: Key = (0, "")
        self.capacity = live.feed.capacity
        self.pending = 0  # offered in the batch being offered
        self.backlog = 0  # written, not yet sent by the socket (as of the last write)
        self.overflowed = False

    @property
    def buffered(self) -> int:
        return self.pending + self.backlog

    def offer(self, item: tuple[Key, Any]) -> None:
        if self.overflowed:
            return
        if self.pending + self.backlog >= self.capacity:
            self.overflowed = True
            self.hub.behind.append(self)
            return
        self.pending += 1
        self.hub.offered.append((self, item))

    def join(self, delivered: Key) -> None:
        self.delivered = delivered
        self.live.feed.join(self)

    def fell_behind(self) -> None:
        """Closed for falling behind: the error with where to resume, then `complete`."""
        e = FellBehind(self.live.feed.capacity, self.delivered)
        self.end([fell_behind(self.live.name, e, self.live.cursor)])

    def end(self, errors: list[GraphQLError]) -> None:
        self.stop()
        payload = {"data": None, "errors": [e.formatted for e in errors]}
        for message in ({"id": self.id, "type": "next", "payload": payload}, {"id": self.id, "type": "complete"}):
            text = dumps(_coded(message)).encode()
            self.connection.write(text, frame(text))

    def stop(self) -> None:
        """Leave the feed and the connection."""
        if self.connection.operations.pop(self.id, None) is self:
            self.live.feed.leave(self)
            self.group.leave()

    async def catch_up(self) -> None:
        """Replay from the table at the client's pace, then join the live rows (a task, while it replays)."""
        live = self.live
        try:
            async for key, row in live.feed.replay(live.after, live.filters):
                if self.connection.operations.get(self.id) is not self:
                    return  # completed meanwhile
                if row is CAUGHT_UP:
                    self.join(key)  # no await since the replay's last check
                    return
                await self.connection.send_text(
                    f'{{"id":{dumps(self.id)},"type":"next","payload":{self.group.payload(row)}}}'
                )
        except (OSError, WebSocketDisconnected):
            pass
        except Exception:
            self.end([failed(live.name)])


class Connection:
    """One graphql-transport-ws connection: its principal, its live operations and, for anything else,
    Strawberry's handler (made at its first use)."""

    __slots__ = (
        "authorization",
        "closed",
        "endpoint",
        "fallback",
        "fd",
        "operations",
        "principal",
        "protocol",
        "receive",
        "scope",
        "send",
        "tasks",
    )

    def __init__(
        self,
        endpoint: LeanSubscriptions,
        scope: Scope,
        receive: Receive,
        send: Send,
        protocol: WebSocketsSansIOProtocol,
    ) -> None:
        self.endpoint = endpoint
        self.scope = scope
        self.receive = receive
        self.send = send
        self.protocol = protocol
        self.principal: Any = None
        self.authorization: str | None = None
        self.operations: dict[str, LiveOperation] = {}
        self.fallback: LedgerTransportWSHandler | None = None
        self.tasks: set[asyncio.Task[None]] | None = None  # replays running
        self.closed = False
        self.fd = -1  # the socket's, once accepted, if its hub may write frames to it directly (parallel_writes.py)

    # --- writing

    def open_transport(self) -> Any:
        """The transport, if a message may be written to it now."""
        protocol = self.protocol
        transport = protocol.transport
        if self.closed or protocol.close_sent or transport.is_closing() or protocol.conn.state is not State.OPEN:
            return None
        return transport

    def write(self, text: bytes, framed: bytes) -> int:
        """One message, now: straight to the transport, or through websockets' protocol if it compresses. Returns
        the bytes the socket has yet to send."""
        transport = self.open_transport()
        if transport is None:
            return 0
        conn = self.protocol.conn
        if conn.extensions:
            conn.send_text(text)
            transport.write(b"".join(conn.data_to_send()))
        else:
            transport.write(framed)
        return transport.get_write_buffer_size()

    async def send_text(self, text: str) -> None:
        await self.send({"type": "websocket.send", "text": text})

    async def send_message(self, message: dict[str, Any]) -> None:
        await self.send_text(dumps(_coded(message)))

    async def close(self, code: int, reason: str) -> None:
        if not self.closed:
            self.closed = True
            await self.send({"type": "websocket.close", "code": code, "reason": reason})

    # --- reading

    async def serve(self) -> None:
        rid = request_id(_header(self.scope, b"x-request-id"))
        # The one header read later; the rest not kept for the socket's life.
        self.authorization = _header(self.scope, b"authorization")
        self.scope["headers"] = []
        await self.send(
            {"type": "websocket.accept", "subprotocol": SUBPROTOCOL, "headers": [(b"x-request-id", rid.encode())]}
        )
        lighten(self.protocol)
        if not self.protocol.conn.extensions:  # permessage-deflate: compressed per connection, by websockets
            self.fd = direct_fd(self.protocol.transport)
        LedgerTransportWSHandler.connections.add(self)
        try:
            await self._read()
        finally:
            LedgerTransportWSHandler.connections.discard(self)
            for operation in list(self.operations.values()):
                operation.stop()
            for task in list(self.tasks or ()):
                task.cancel()
            if self.fallback is not None:
                await self.fallback.shutdown()

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.endpoint.graphql.connection_init_wait_timeout.total_seconds()
        initialised = False
        while not self.closed:
            if initialised:
                message = await self.receive()
            else:
                try:
                    message = await asyncio.wait_for(self.receive(), max(0.0, deadline - loop.time()))
                except TimeoutError:
                    await self.close(4408, "Connection initialisation timeout")
                    return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await self.close(4400, "WebSocket message type must be text")
                return
            try:
                parsed = self.endpoint.graphql.decode_json(text)
            except UnreadableJSON as e:
                await self.close(4400, f"WebSocket message must be valid JSON: {e}")
                return
            except ValueError:
                await self.close(4400, "WebSocket message must be valid JSON")
                return
            try:
                await self.handle(parsed)
            except (KeyError, TypeError):
                await self.close(4400, "Failed to parse message")
            initialised = initialised or self.principal is not None
            # Not held while the socket waits for its next message.
            del message, text, parsed

    async def handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "connection_init":
            await self.connection_init(message)
        elif kind == "ping":
            await self.send_message({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            await self.subscribe(message)
        elif kind == "complete":
            op_id = message["id"]
            if (operation := self.operations.get(op_id)) is not None:
                operation.stop()
            elif self.fallback is not None:
                await self.fallback.handle_complete(message)  # type: ignore[arg-type]
        else:
            await self.close(4400, f"Unknown message type: {kind}")

    async def connection_init(self, message: dict[str, Any]) -> None:
        payload = message.get("payload", {})
        if not isinstance(payload, dict):
            await self.close(4400, "Invalid connection init payload")
            return
        if self.principal is not None:
            await self.close(4429, "Too many initialisation requests")
            return
        graphql = self.endpoint.graphql
        try:
            handshake = await graphql.handshake_principal(self.authorization)
            self.principal = await graphql.connecting(payload, handshake)
        except ConnectionRejectionError:
            await self.close(4403, "Forbidden")
            return
        await self.send_message({"type": "connection_ack", "payload": None})

    async def subscribe(self, message: dict[str, Any]) -> None:
        if self.principal is None:
            await self.close(4401, "Unauthorized")
            return
        op_id = message["id"]
        fallback = self.fallback.operations if self.fallback is not None else {}
        if op_id in self.operations or op_id in fallback:
            await self.close(4409, f"Subscriber for {op_id} already exists")
            return
        limit = self.endpoint.graphql.max_subscriptions_per_connection
        if limit is not None and len(self.operations) + len(fallback) >= limit:
            await self.send_message(
                {"id": op_id, "type": "error", "payload": [LedgerTransportWSHandler.refusal(limit)]}
            )
            return
        payload = message["payload"]
        query, name = payload.get("query"), payload.get("operationName")
        plan = self.endpoint.plans.get(query, name) if isinstance(query, str) and isinstance(name, str | None) else None
        if plan is None or not await self.start(op_id, plan, payload.get("variables")):
            await self.fall_back(message)

    async def start(self, op_id: str, plan: Plan, variables: Any) -> bool:
        """Set the subscription up as its resolver does, and join it to its feed; False if anything failed."""
        graphql = self.endpoint.graphql
        schema, executor_class = graphql.schema, graphql.schema.execution_context_class
        context = Context(graphql.services, self.principal)
        executor = executor_class.build(schema._schema, plan.document, None, context, variables, plan.operation_name)
        if isinstance(executor, list):
            return False
        with lean_streams():
            live = create_source_event_stream(executor)
            if executor.is_awaitable(live):
                live = await live
        if not isinstance(live, Live):
            return False
        # The selection's results depend only on the variables it reads below the root field.
        values = executor.variable_values.coerced
        key = repr([(n, values.get(n)) for n in plan.shared_names])
        group = plan.groups.get(key)
        if group is None:
            shared = executor_class.build(schema._schema, plan.document, None, None, variables, plan.operation_name)
            group = plan.groups[key] = Group(plan, key, shared)
        group.members += 1
        operation = LiveOperation(self, op_id, group, live)
        self.operations[op_id] = operation
        if live.after is None and not live.feed.skipped:
            operation.join(live.feed.last)  # from now: as the feed's stream starts
        else:
            task = asyncio.create_task(operation.catch_up(), name=f"catch-up-{op_id}")
            tasks = self.tasks = self.tasks or set()
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return True

    async def fall_back(self, message: dict[str, Any]) -> None:
        """Strawberry's handler serves the operation, as it serves every operation without the speed-ups."""
        if self.fallback is None:
            graphql = self.endpoint.graphql
            websocket = WebSocket(self.scope, self.receive, self.send)
            websocket.client_state = websocket.application_state = WebSocketState.CONNECTED
            context = Context(graphql.services, self.principal, websocket, websocket)
            handler = LedgerTransportWSHandler(
                view=graphql,
                websocket=_Sender(self),  # type: ignore[arg-type]
                context=context,
                root_value=None,
                schema=graphql.schema,
                connection_init_wait_timeout=graphql.connection_init_wait_timeout,
                max_subscriptions_per_connection=graphql.max_subscriptions_per_connection,
            )
            handler.connection_init_received = handler.connection_acknowledged = True
            self.fallback = handler
        await self.fallback.handle_subscribe(message)  # type: ignore[arg-type]


class _Inbox:
    """What uvicorn's protocol queues for the app to receive: asyncio.Queue's part of it, in a tenth of its
    memory (an asyncio.Queue brings two deques and an Event)."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []  # a few at most: a deque's first block alone is 600 bytes
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> Any:
        return self._items.pop(0)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class _Writable:
    """uvicorn's flow-control flag: asyncio.Event's part of it, without a deque of waiters while nobody waits."""

    __slots__ = ("_set", "_waiters")

    def __init__(self, is_set: bool) -> None:
        self._set = is_set
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters or [], None
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        if self._set:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters = [*(self._waiters or ()), waiter]
        await waiter


def lighten(protocol: WebSocketsSansIOProtocol) -> None:
    """An accepted connection's uvicorn protocol, holding less for the socket's life: the handshake's request and
    response (their headers) dropped, which it reads no more once accepted, its queue and flag made lighter
    (tests/unit/test_library_internals.py checks what this relies on)."""
    inbox, queued = _Inbox(), protocol.queue
    while not queued.empty():
        inbox.put_nowait(queued.get_nowait())
    protocol.queue = inbox  # type: ignore[assignment]
    protocol.writable = _Writable(protocol.writable.is_set())  # type: ignore[assignment]
    protocol.request = protocol.response = None  # type: ignore[assignment]


class _Sender:
    """What Strawberry's handler sends through: this connection's socket."""

    __slots__ = ("connection",)

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    async def send_json(self, message: Any) -> None:
        try:
            await self.connection.send_text(dumps(message))
        except OSError as e:  # uvicorn's ClientDisconnected
            raise WebSocketDisconnected from e

    async def close(self, code: int, reason: str) -> None:
        await self.connection.close(code, reason)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class LeanSubscriptions:
    """ASGI middleware: graphql-transport-ws connections to `path` served here (see the module's docstring)."""

    def __init__(self, app: ASGIApp, graphql: Any, path: str = "/graphql") -> None:
        self.app = app
        self.graphql = graphql
        self.path = path
        self.plans = Plans(graphql.schema)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or scope["path"] != self.path or not self._lean(scope, send):
            await self.app(scope, receive, send)
            return
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        await Connection(self, scope, receive, send, send.__self__).serve()  # type: ignore[attr-defined]

    def _lean(self, scope: Scope, send: Send) -> bool:
        """uvicorn's websockets-sansio protocol, graphql-transport-ws asked for, and an origin Strawberry allows."""
        if not isinstance(getattr(send, "__self__", None), WebSocketsSansIOProtocol):
            return False
        if SUBPROTOCOL not in scope.get("subprotocols", ()):
            return False
        allowed: bool = self.graphql._check_websocket_origin(WebSocket(scope, _never, send))
        return allowed


async def _never() -> Any:
    raise RuntimeError("not read")

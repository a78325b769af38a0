"""One execution per live event and operation, whatever the number of subscribers."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, ClassVar

import strawberry
from strawberry.extensions import ParserCache
from strawberry.types import Info

from service.speedups.shared_results import SharedResultsExecutionContext

executions = {"doubled": 0}


@strawberry.type
class Event:
    value: int

    @strawberry.field
    def doubled(self) -> int:
        executions["doubled"] += 1
        return self.value * 2


@strawberry.type
class SharedEvent(Event):
    pass


@strawberry.type
class Query:
    ok: bool = True


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def events(self, info: Info, after: str | None = None) -> AsyncGenerator[Event, None]:
        for event in info.context["events"]:
            yield event


class Sharing(SharedResultsExecutionContext):
    shared_types: ClassVar[tuple[type, ...]] = (SharedEvent,)


schema = strawberry.Schema(
    query=Query,
    subscription=Subscription,
    execution_context_class=Sharing,
    extensions=[lambda: ParserCache(maxsize=8)],  # as the service has: one AST per document text
)
DOCUMENT = """subscription($after: String, $flag: Boolean!) {
  events(after: $after) { value doubled @include(if: $flag) }
}"""


async def results(events: list[Event], variables: dict[str, Any]) -> list[Any]:
    stream = await schema.subscribe(DOCUMENT, variable_values=variables, context_value={"events": events})
    assert not hasattr(stream, "errors"), stream
    return [result.data async for result in stream]  # type: ignore[union-attr]


async def test_subscribers_of_one_operation_share_a_shared_events_result() -> None:
    executions["doubled"] = 0
    events = [SharedEvent(value=1), SharedEvent(value=2)]
    # `after` is an argument of the root field only: it does not change what the selection reads.
    first = await results(events, {"after": "a", "flag": True})
    second = await results(events, {"after": "b", "flag": True})
    without = await results(events, {"after": "a", "flag": False})
    assert first == second == [{"events": {"value": 1, "doubled": 2}}, {"events": {"value": 2, "doubled": 4}}]
    assert without == [{"events": {"value": 1}}, {"events": {"value": 2}}]
    assert executions["doubled"] == 2  # once per event, not once per subscriber


async def test_events_of_other_types_are_executed_for_each_subscriber() -> None:
    executions["doubled"] = 0
    events = [Event(value=1)]
    for after in ("a", "b", "c"):
        assert await results(events, {"after": after, "flag": True}) == [{"events": {"value": 1, "doubled": 2}}]
    assert executions["doubled"] == 3

"""`statusChanges` over HTTP and `statusChanged` over graphql-transport-ws share their cursors: an integration
switches from polling to subscribing, or back, and gets exactly the changes after the last one it read."""

from __future__ import annotations

from typing import Any

from service.auth.tokens import create_token
from tests.e2e.given import a_plan, criminal_damage, redefine_direction, submit_total
from tests.e2e.live import GraphQLClient, LiveServer
from tests.e2e.ws_client import graphql_ws

FIELDS = "id cursor position quarter from to measureId planId measureNumber actor reason"
POLL = f"""query($planId: ID, $measureId: ID, $first: Int, $after: String) {{
  statusChanges(planId: $planId, measureId: $measureId, first: $first, after: $after) {{
    edges {{ cursor node {{ {FIELDS} }} }}
    nodes {{ {FIELDS} }}
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
  }}
}}"""
SUBSCRIBE = f"""subscription($measureId: ID, $after: String) {{
  statusChanged(measureId: $measureId, after: $after) {{ {FIELDS} }} }}"""


def ws_url(server: LiveServer) -> str:
    return server.url.replace("http://", "ws://") + "/graphql"


def a_measure(client: GraphQLClient) -> str:
    measure_id: str = criminal_damage(client, a_plan(client))["id"]
    return measure_id


def poll(client: GraphQLClient, **variables: Any) -> dict[str, Any]:
    page: dict[str, Any] = client.execute(POLL, variables)["statusChanges"]
    return page


def poll_all(client: GraphQLClient, measure_id: str, first: int, after: str | None = None) -> list[dict[str, Any]]:
    """Every change after `after`, a page of `first` at a time."""
    found: list[dict[str, Any]] = []
    while True:
        page = poll(client, measureId=measure_id, first=first, after=after)
        found += [edge["node"] for edge in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            return found


def keys(changes: list[dict[str, Any]]) -> list[tuple[int, str, str, str]]:
    return [(c["position"], c["quarter"], c["from"], c["to"]) for c in changes]


def three_changes_two_at_one_position(client: GraphQLClient, measure_id: str) -> None:
    submit_total(client, measure_id, "Q1", "400")  # Q1: NO_DATA -> a status
    submit_total(client, measure_id, "Q2", "900")  # Q2: NO_DATA -> a status
    redefine_direction(client, measure_id, "INCREASE")  # Q1 and Q2 flip at one position


def test_pages_of_any_size_list_every_change_once_in_order_even_within_one_position(client: GraphQLClient) -> None:
    mid = a_measure(client)
    three_changes_two_at_one_position(client, mid)

    whole = poll(client, measureId=mid)
    one_at_a_time = poll_all(client, mid, first=1)

    assert len(whole["nodes"]) == 4 and whole["pageInfo"]["hasNextPage"] is False
    assert one_at_a_time == [edge["node"] for edge in whole["edges"]]
    positions = [c["position"] for c in one_at_a_time]
    assert positions == sorted(positions) and positions[2] == positions[3]  # the redefinition's two quarters
    assert [c["quarter"] for c in one_at_a_time] == ["Q1", "Q2", "Q1", "Q2"]
    assert [c["from"] for c in one_at_a_time[:2]] == ["NO_DATA", "NO_DATA"]
    assert one_at_a_time[2]["reason"] == "the board now wants to increase it"
    assert [c["id"] for c in one_at_a_time] == [f"StatusChange:{c['position']}:{c['quarter']}" for c in one_at_a_time]


async def test_a_poller_subscribes_after_its_last_page_and_gets_exactly_the_changes_after_it(
    server: LiveServer, client: GraphQLClient, token: str
) -> None:
    mid = a_measure(client)
    three_changes_two_at_one_position(client, mid)
    page = poll(client, measureId=mid, first=3)  # ends between the redefinition's two quarters
    everything = poll(client, measureId=mid)["nodes"]

    async with graphql_ws(ws_url(server), {"Authorization": f"Bearer {token}"}) as ws:
        await ws.subscribe("s", SUBSCRIBE, {"measureId": mid, "after": page["pageInfo"]["endCursor"]})
        replayed = await ws.take("s", 1, "statusChanged")
        submit_total(client, mid, "Q3", "1500")
        live = await ws.take("s", 1, "statusChanged")
        await ws.nothing_more("s")

    assert [c["cursor"] for c in replayed] == [everything[3]["cursor"]]
    assert keys(live) == keys(poll_all(client, mid, first=50, after=everything[3]["cursor"]))
    assert live[0]["quarter"] == "Q3" and live[0]["from"] == "NO_DATA"


async def test_a_subscriber_polls_after_its_last_message_and_gets_exactly_the_changes_after_it(
    server: LiveServer, client: GraphQLClient, token: str
) -> None:
    mid = a_measure(client)

    async with graphql_ws(ws_url(server), {"Authorization": f"Bearer {token}"}) as ws:
        await ws.subscribe("s", SUBSCRIBE, {"measureId": mid})
        submit_total(client, mid, "Q1", "400")
        taken = await ws.take("s", 1, "statusChanged")
    # While nobody listens, more changes are recorded.
    submit_total(client, mid, "Q2", "900")
    redefine_direction(client, mid, "INCREASE")

    missed = poll_all(client, mid, first=2, after=taken[-1]["cursor"])

    assert keys(taken) + keys(missed) == keys(poll(client, measureId=mid)["nodes"])
    assert [c["quarter"] for c in missed] == ["Q2", "Q1", "Q2"]
    end = poll(client, measureId=mid, after=missed[-1]["cursor"])
    assert end["edges"] == [] and end["pageInfo"]["endCursor"] == missed[-1]["cursor"]


async def test_an_empty_first_page_still_gives_a_cursor_that_misses_nothing(
    server: LiveServer, client: GraphQLClient, token: str
) -> None:
    other = a_measure(client)
    submit_total(client, other, "Q1", "600")  # some change elsewhere, so the ledger has a newest change
    mid = a_measure(client)

    empty = poll(client, measureId=mid)
    assert empty["edges"] == [] and empty["pageInfo"]["endCursor"] is not None
    submit_total(client, mid, "Q1", "400")  # recorded between the poll and the subscription

    async with graphql_ws(ws_url(server), {"Authorization": f"Bearer {token}"}) as ws:
        await ws.subscribe("s", SUBSCRIBE, {"measureId": mid, "after": empty["pageInfo"]["endCursor"]})
        replayed = await ws.take("s", 1, "statusChanged")
        await ws.nothing_more("s")
    assert keys(replayed) == keys(poll(client, measureId=mid)["nodes"])


def test_polling_is_refused_as_subscribing_is_with_the_argument_named(client: GraphQLClient, database_url: str) -> None:
    plan_id = a_plan(client, partnership="Safer Stockton Partnership")
    viewer = client.as_(
        create_token(database_url, "viewer@a.example", partnership="Safer Stockton Partnership", roles=["viewer"])
    )

    assert viewer.execute(POLL, {"planId": plan_id})["statusChanges"]["nodes"] == []
    everywhere = viewer.errors(POLL, {})[0]
    assert (everywhere["extensions"]["code"], everywhere["extensions"]["field"]) == ("FORBIDDEN", "planId")
    for variables, code, field in [
        ({"after": "nonsense"}, "VALIDATION", "after"),
        ({"measureId": "not-an-id"}, "VALIDATION", "measureId"),
        ({"first": 501}, "LIMIT_EXCEEDED", "first"),
        ({"first": -1}, "VALIDATION", "first"),
    ]:
        error = client.errors(POLL, variables)[0]
        assert (error["extensions"]["code"], error["extensions"]["field"]) == (code, field), error
    anonymous = client.as_(None).errors(POLL, {"planId": plan_id})[0]
    assert anonymous["extensions"]["code"] == "UNAUTHENTICATED"

"""The front door in headless Chromium with no internet: the page at `/`, and GraphiQL running a query and a
subscription with a token, every file served by the service itself (the `page` fixture refuses, and fails
the test on, any request to another machine)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from service.auth.tokens import create_token
from tests.browser.harness import Axe, describe
from tests.conftest import DatabaseFactory
from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient, serving

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Door:
    client: GraphQLClient  # the officer's, of the service served
    plan_id: str
    measure_id: str

    @property
    def url(self) -> str:
        return self.client.url


@pytest.fixture(scope="module")
def door(new_database: DatabaseFactory) -> Iterator[Door]:
    database_url = new_database()
    with serving(database_url) as server:
        client = GraphQLClient(server.url, create_token(database_url, "officer@stockton.gov.uk"))
        plan_id = a_plan(client)
        measure_id = criminal_damage(client, plan_id)["id"]
        yield Door(client, plan_id, measure_id)


@pytest.fixture
def console_errors(page: Page) -> Iterator[list[str]]:
    """What the page reports as errors (a script that fails, a refusal by its Content-Security-Policy): none."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield errors
    assert not errors, errors


def editor(page: Page, selector: str, text: str) -> None:
    """Replace what one of GraphiQL's editors holds, as a person pasting into it would."""
    page.locator(selector).click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)


def run_in_graphiql(page: Page, door: Door, operation: str, document: str) -> None:
    """Open GraphiQL, give it the token and a named operation, and run it."""
    page.goto(door.url + "/graphql")
    editor(
        page,
        ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror",
        json.dumps({"Authorization": f"Bearer {door.client.token}"}),
    )
    editor(page, ".graphiql-query-editor .CodeMirror", document)
    # GraphiQL reads the operation's name from the editor a moment later: run it once the tab shows it.
    expect(page.locator(".graphiql-tab-button")).to_have_text(operation)
    page.locator("button.graphiql-execute-button").click()


def subscribed(door: Door, timeout: float = 20) -> None:
    """Wait until the service holds a subscriber: a change made after that reaches it live."""
    deadline = time.monotonic() + timeout
    while not any(httpx.get(door.url + "/health").json()["subscribers"].values()):
        assert time.monotonic() < deadline, "GraphiQL's subscription never reached the service"
        time.sleep(0.1)


def test_the_front_page_says_what_this_is_and_links_to_graphiql_the_schema_health_and_the_docs(
    page: Page, door: Door, axe: Axe, console_errors: list[str]
) -> None:
    page.goto(door.url + "/")

    expect(page.locator("h1")).to_have_text("Measure Ledger")
    expect(page.locator("main")).to_contain_text("event-sourced ledger")
    links = {a.inner_text(): a.get_attribute("href") for a in page.locator(".doors a").all()}
    assert links == {
        "GraphiQL": "/graphql",
        "The schema": "/schema.graphql",
        "Health": "/health",
        "The docs": "/docs/",
    }
    for href in links.values():
        assert page.request.get(door.url + str(href)).status == 200, href
    assert page.request.get(door.url + "/schema.graphql").text() == (ROOT / "schema.graphql").read_text()
    assert not (violations := axe.violations(page)), describe(violations)

    page.locator("a", has_text="The docs").click()
    page.locator("a", has_text="clients.md").click()
    expect(page.locator("body")).to_contain_text("GraphQL Code Generator")


def test_graphiql_runs_a_query_with_the_token_from_its_headers_tab(
    page: Page, door: Door, console_errors: list[str]
) -> None:
    run_in_graphiql(
        page,
        door,
        "Measures",
        f'query Measures {{ plan(id: "{door.plan_id}") {{ title measures {{ number title }} }} }}',
    )

    result = page.locator(".result-window")
    expect(result).to_contain_text("Reduce Criminal Damage", timeout=20_000)
    expect(result).to_contain_text('"number": "5.1"')


def test_graphiql_runs_a_subscription_over_a_websocket_with_the_token(
    page: Page, door: Door, console_errors: list[str]
) -> None:
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    subscription = f'subscription Changes {{ statusChanged(measureId: "{door.measure_id}") {{ quarter from to }} }}'
    run_in_graphiql(page, door, "Changes", subscription)
    # Running: the button stops it now, and the service counts a subscriber.
    expect(page.locator("button.graphiql-execute-button")).to_have_attribute("aria-label", "Stop query (Ctrl-Enter)")
    subscribed(door)

    figure = {"measureId": door.measure_id, "component": "total", "quarter": "Q1", "value": "492"}
    door.client.execute(doc.SUBMIT_FIGURE, {"input": figure})

    result = page.locator(".result-window")
    expect(result).to_contain_text('"quarter": "Q1"', timeout=20_000)
    expect(result).to_contain_text('"from": "NO_DATA"')
    assert sockets == [door.url.replace("http://", "ws://") + "/graphql"]


def test_graphiql_is_served_by_the_service_with_its_pinned_files_and_nothing_from_elsewhere(door: Door) -> None:
    page = httpx.get(door.url + "/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "cdn" not in page.text.lower() and "https://" not in page.text

    vendor = resources.files("service.front_door").joinpath("vendor")
    sums = dict(reversed(line.split("  ")) for line in vendor.joinpath("SHA256SUMS").read_text().splitlines())
    for name, digest in sums.items():
        assert hashlib.sha256(vendor.joinpath(name).read_bytes()).hexdigest() == digest, name
    for name in ("graphiql.min.js", "graphiql.min.css", "react.production.min.js", "react-dom.production.min.js"):
        assert f"/{name}" in page.text
    src = page.text.split('src="')[1].split('"')[0]
    served = httpx.get(door.url + src, headers={"accept-encoding": "gzip"})
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert served.headers["content-encoding"] == "gzip"

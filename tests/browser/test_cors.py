"""A browser app on another origin calls the API as Chromium allows it: with the revalidation, tracing and
Apollo headers it sends (each a CORS preflight), reading the ETag and the request id it gets back.

The harness's `page` routes every request through Playwright to refuse those off the machine, and Playwright
answers a routed request's CORS preflight itself: this test's page is not routed, so that Chromium asks the
service, and checks instead that every request it made went to this machine."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from service.app import create_app
from service.auth.tokens import create_token
from service.settings import Settings
from tests.conftest import DatabaseFactory
from tests.e2e.given import a_plan
from tests.e2e.live import GraphQLClient, LiveServer


@dataclass(frozen=True)
class Origins:
    app: str  # where the browser app's page comes from
    api: str
    token: str
    plan_id: str


@pytest.fixture(scope="module")
def origins(new_database: DatabaseFactory) -> Iterator[Origins]:
    async def page(_: Any) -> HTMLResponse:
        return HTMLResponse("<!doctype html><html lang='en'><title>Dashboard</title><body>Dashboard</body></html>")

    app = LiveServer(Starlette(routes=[Route("/", page)])).start()
    database_url = new_database()
    settings = Settings(database_url=database_url, load_demo=False, allowed_origins=(app.url,))
    api = LiveServer(create_app(settings)).start()
    try:
        token = create_token(database_url, "dashboards@stockton.gov.uk")
        plan_id = a_plan(GraphQLClient(api.url, token))
        yield Origins(app.url, api.url, token, plan_id)
    finally:
        api.stop()
        app.stop()


CALL = """async ({api, token, planId, etag}) => {
  const response = await fetch(api + "/graphql", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "authorization": "Bearer " + token,
      "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "x-request-id": "dashboard-7f3a",
      "apollographql-client-name": "dashboard",
      "apollographql-client-version": "1.4.0",
      ...(etag ? {"if-none-match": etag} : {}),
    },
    body: JSON.stringify({query: "query($id: ID!) { plan(id: $id) { id title } }", variables: {id: planId}}),
    cache: "no-store",
  });
  const body = response.status === 200 ? await response.json() : null;
  return {status: response.status, etag: response.headers.get("etag"),
          requestId: response.headers.get("x-request-id"), body};
}"""


@pytest.fixture
def unrouted_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    try:
        yield context.new_page()
    finally:
        context.close()
    assert requested and all(urlsplit(url).hostname == "127.0.0.1" for url in requested), requested


def test_a_browser_app_on_an_allowed_origin_sends_its_headers_and_reads_the_etag_and_request_id(
    unrouted_page: Page, origins: Origins
) -> None:
    page = unrouted_page
    page.goto(origins.app + "/")
    arguments = {"api": origins.api, "token": origins.token, "planId": origins.plan_id, "etag": None}

    first = page.evaluate(CALL, arguments)
    again = page.evaluate(CALL, {**arguments, "etag": first["etag"]})

    assert first["status"] == 200
    assert first["body"]["data"]["plan"]["id"] == origins.plan_id
    assert first["etag"] and first["requestId"] == "dashboard-7f3a"
    # Revalidated with the ETag it could read: unchanged, so no body.
    assert again["status"] == 304
    assert again["etag"] == first["etag"]

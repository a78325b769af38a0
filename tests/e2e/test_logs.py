"""Log lines and request ids: `X-Request-ID` and `traceparent` answered back, and `serve`'s log lines as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.auth.tokens import create_token
from tests.e2e.live import LiveServer
from tests.e2e.processes import free_port, interrupt, wait_until_serving
from tests.e2e.ws_client import graphql_ws

CLI = Path(sys.executable).with_name("measure-ledger")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
DASHBOARD = "query Dashboard { plans { id } }"


def post(url: str, token: str | None, query: str, **headers: str) -> httpx.Response:
    if token:
        headers["authorization"] = f"Bearer {token}"
    return httpx.post(url + "/graphql", json={"query": query}, headers=headers, timeout=30)


def test_a_request_id_and_trace_context_sent_are_answered_back(server: LiveServer, token: str) -> None:
    sent = post(server.url, token, DASHBOARD, **{"x-request-id": "dash-42", "traceparent": TRACEPARENT})
    assert sent.status_code == 200
    assert sent.headers["x-request-id"] == "dash-42"
    assert sent.headers["traceparent"] == TRACEPARENT


def test_a_request_without_an_id_is_given_one_on_every_route(server: LiveServer, token: str) -> None:
    first, second = (post(server.url, token, DASHBOARD) for _ in range(2))
    assert len(first.headers["x-request-id"]) == 16 and first.headers["x-request-id"] != second.headers["x-request-id"]
    assert "traceparent" not in first.headers
    health = httpx.get(server.url + "/health", headers={"x-request-id": "probe-1"}, timeout=10)
    assert health.headers["x-request-id"] == "probe-1"
    assert len(httpx.get(server.url + "/", timeout=10).headers["x-request-id"]) == 16


@pytest.mark.parametrize(
    "traceparent",
    [
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  # a field short
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # an all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # an all-zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # no version
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # version 00 has four fields
    ],
)
def test_a_malformed_traceparent_is_ignored(server: LiveServer, token: str, traceparent: str) -> None:
    answered = post(server.url, token, DASHBOARD, traceparent=traceparent)
    assert answered.status_code == 200
    assert "traceparent" not in answered.headers


async def test_a_websocket_is_answered_with_its_request_id(server: LiveServer, token: str) -> None:
    ws_url = server.url.replace("http", "ws") + "/graphql"
    async with graphql_ws(ws_url, {"authorization": f"Bearer {token}"}, headers={"x-request-id": "socket-7"}) as ws:
        assert ws.ws.response is not None
        assert ws.ws.response.headers["x-request-id"] == "socket-7"


def test_an_unusable_request_id_is_replaced(server: LiveServer, token: str) -> None:
    answered = post(server.url, token, DASHBOARD, **{"x-request-id": "no spaces; or semicolons"})
    assert answered.headers["x-request-id"] != "no spaces; or semicolons"
    assert len(answered.headers["x-request-id"]) == 16
    later_version = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more"
    assert post(server.url, token, DASHBOARD, traceparent=later_version).headers["traceparent"] == later_version


def serve_and_log(database_url: str, tmp_path: Path, log_format: str | None, requests: list[dict[str, str]]) -> str:
    """Run `serve` against the database, send each request (headers, with `query`), stop it; its stderr."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "ML_DATA_DIR": str(tmp_path)}
    env.pop("ML_LOG_FORMAT", None)
    if log_format is not None:
        env["ML_LOG_FORMAT"] = log_format
    stderr = (tmp_path / "stderr").open("w+")
    process = subprocess.Popen(
        [str(CLI), "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=stderr, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, (tmp_path / "stderr"))
        for headers in requests:
            query = headers.pop("query")
            token = headers.pop("token", None)
            post(url, token, query, **headers)
    finally:
        interrupt(process)
        stderr.close()
    return (tmp_path / "stderr").read_text()


@pytest.mark.slow  # runs `measure-ledger serve`
def test_serve_writes_one_json_object_a_line_with_the_request_fields(database_url: str, tmp_path: Path) -> None:
    token = create_token(database_url, "ops@stockton.gov.uk")
    output = serve_and_log(
        database_url,
        tmp_path,
        "json",
        [
            {"query": DASHBOARD, "token": token, "x-request-id": "dash-42", "traceparent": TRACEPARENT},
            {"query": "query Broken { plan(id: 7) { id } }", "token": token, "x-request-id": "broken-1"},
        ],
    )
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines), lines
    assert {line["logger"] for line in lines} >= {"uvicorn.error", "service.access"}
    dashboard = only(lines, "dash-42")
    assert dashboard["level"] == "INFO" and dashboard["logger"] == "service.access"
    assert dashboard["principal"] == "ops@stockton.gov.uk"
    assert dashboard["operation"] == "Dashboard"
    assert dashboard["trace_id"] == TRACEPARENT.split("-")[1]
    assert dashboard["status"] == 200 and dashboard["method"] == "POST"
    assert isinstance(dashboard["duration_ms"], float) and dashboard["duration_ms"] > 0
    broken = only(lines, "broken-1")
    assert broken["operation"] == "Broken" and "VALIDATION" in broken["message"]


@pytest.mark.slow  # runs `measure-ledger serve`
def test_serve_logs_readable_text_by_default(database_url: str, tmp_path: Path) -> None:
    token = create_token(database_url, "ops@stockton.gov.uk")
    output = serve_and_log(database_url, tmp_path, None, [{"query": DASHBOARD, "token": token, "x-request-id": "t-1"}])
    line = next(line for line in output.splitlines() if "request_id=t-1" in line)
    assert " INFO service.access: POST /graphql 200 Dashboard ok in " in line
    assert "principal=ops@stockton.gov.uk" in line and "operation=Dashboard" in line


def test_an_unknown_log_format_is_refused_in_one_line() -> None:
    done = subprocess.run(
        [str(CLI), "schema", "--check"], env={**os.environ, "ML_LOG_FORMAT": "xml"}, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "ML_LOG_FORMAT: 'xml' is not one of text, json"


def only(lines: list[dict[str, Any]], request_id: str) -> dict[str, Any]:
    found = [line for line in lines if line.get("request_id") == request_id and line["logger"] == "service.access"]
    assert len(found) == 1, found
    return found[0]

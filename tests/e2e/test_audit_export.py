"""The auditor's download: the audit trail as CSV or JSON Lines, filtered, streamed, behind a token."""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import Any

import httpx
import psycopg

from tests.e2e.given import a_revised_measure
from tests.e2e.live import GraphQLClient

TRAIL = "{ auditTrail(first: 500) { nodes { position recordedAt actor action measureId before after reason } } }"


def download(client: GraphQLClient, token: str | None = None, **params: str) -> httpx.Response:
    headers = {"authorization": f"Bearer {token or client.token}"} if token != "" else {}
    return httpx.get(client.url + "/audit/export", params=params, headers=headers, timeout=30)


def test_an_auditor_downloads_the_trail_as_csv_or_json_lines_with_the_query_s_filters(
    client: GraphQLClient, bob: GraphQLClient
) -> None:
    _, mid = a_revised_measure(client, bob)
    a_revised_measure(client, bob)
    everything = client.execute(TRAIL)["auditTrail"]["nodes"]

    as_csv = download(client, format="csv")
    as_jsonl = download(client, format="jsonl", measureId=mid, order="NEWEST_FIRST")
    bobs = download(client, format="csv", actor="bob@police.example", action="FigureSubmitted")

    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert 'filename="audit-trail.csv"' in as_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [{k: r[k] for k in ("position", "recordedAt", "actor", "action")} for r in rows] == [
        {k: str(e[k]) for k in ("position", "recordedAt", "actor", "action")} for e in everything
    ]
    assert as_csv.text.splitlines()[0] == (
        "position,recordedAt,actor,action,planId,measureId,measureNumber,"
        "component,quarter,field,before,after,reason,changes"
    )
    lines = [json.loads(line) for line in as_jsonl.text.splitlines()]
    assert as_jsonl.headers["content-type"].startswith("application/x-ndjson")
    assert [(e["action"], e["before"], e["after"], e["reason"]) for e in lines] == [
        ("FigureRevised", "492", "495", "late recording"),
        ("FigureSubmitted", None, "492", None),
        ("BaselineSet", None, "2472", None),
        ("MeasureDefined", None, "Reduce Criminal Damage", None),
    ]
    assert lines[0]["changes"] == [{"field": "value", "before": "492", "after": "495"}]
    assert rows[-1]["changes"] == "value: 492 -> 495"
    assert {e["measureId"] for e in lines} == {mid}
    assert [(r["actor"], r["action"]) for r in csv.DictReader(io.StringIO(bobs.text))] == [
        ("bob@police.example", "FigureSubmitted")
    ] * 2


def test_a_download_needs_a_token_a_known_format_and_valid_filters(client: GraphQLClient) -> None:
    def refused(response: httpx.Response) -> tuple[int, str]:
        body: dict[str, Any] = response.json()
        return response.status_code, body["errors"][0]["extensions"]["code"]

    assert refused(download(client, token="")) == (401, "UNAUTHENTICATED")
    assert refused(download(client, token="mlt_00000000_not-a-token")) == (401, "UNAUTHENTICATED")
    assert refused(download(client, format="xlsx")) == (400, "VALIDATION")
    assert refused(download(client, planId="5.1")) == (400, "VALIDATION")
    assert refused(download(client, recordedFrom="2012-09-25T09:00:00")) == (400, "VALIDATION")
    assert refused(download(client, action="Everything")) == (400, "VALIDATION")


def test_a_long_trail_is_streamed_in_chunks_and_arrives_whole(client: GraphQLClient, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        # Thousands of entries without thousands of writes: rows as the projection writes them.
        conn.execute(
            """INSERT INTO audit_entries (position, recorded_at, known_at, actor, action, field, after)
               SELECT n, '2012-09-25T09:00:00Z'::timestamptz + n * interval '1 second',
                      '2012-09-25T09:00:00Z'::timestamptz + n * interval '1 second', 'loader@example.org',
                      'FigureSubmitted', 'figure', n::text
               FROM generate_series(1000001, 1004500) AS n"""
        )

    with httpx.stream(
        "GET",
        client.url + "/audit/export",
        params={"format": "jsonl", "actor": "loader@example.org"},
        headers={"authorization": f"Bearer {client.token}"},
        timeout=30,
    ) as response:
        chunks = list(response.iter_raw())

    assert response.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.headers
    assert len(chunks) > 1
    # Compressed as it streams (service/compression.py), each chunk flushed as it goes.
    assert response.headers["content-encoding"] == "gzip"
    lines = gzip.decompress(b"".join(chunks)).decode().splitlines()
    assert [json.loads(line)["after"] for line in lines] == [str(n) for n in range(1000001, 1004501)]

"""The board report over HTTP: who may read it, its signed links, its CSV and PDF, and its provenance.

The page itself, in a real browser, is tested in tests/browser/test_report_page.py.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

import httpx
import pytest

from service.auth.tokens import create_token
from tests.conftest import DatabaseFactory
from tests.e2e.demo import HAND_CHECKED, of_stockton, serving_demo
from tests.e2e.live import GraphQLClient, serving

LINK = "query($plan: ID!, $asOf: DateTime) { reportLink(planId: $plan, asOf: $asOf) { url path expiresAt } }"


@dataclass(frozen=True)
class Demo:
    database_url: str
    url: str
    plan_id: UUID
    viewer: str
    auditor: str
    outsider: str

    def get(self, token: str | None = None, path: str = "", **params: str) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{self.url}/reports/{self.plan_id}{path}", params=params, headers=headers, timeout=60)

    def link(self, token: str, as_of: str | None = None) -> httpx.Response:
        return GraphQLClient(self.url, token).post(LINK, {"plan": str(self.plan_id), "asOf": as_of})


@pytest.fixture(scope="module")
def demo(new_database: DatabaseFactory) -> Iterator[Demo]:
    database_url = new_database()
    with serving_demo(database_url) as (server, plan_id):
        yield Demo(
            database_url,
            server.url,
            plan_id,
            viewer=of_stockton(database_url, "viewer"),
            auditor=of_stockton(database_url, "auditor"),
            outsider=create_token(
                database_url, "auditor@elsewhere.example", partnership="Elsewhere", roles=["auditor"]
            ),
        )


def test_the_report_needs_credentials_and_says_how_a_browser_gets_them(demo: Demo) -> None:
    response = demo.get()

    assert response.status_code == 401
    assert "reportLink" in response.text


def test_a_report_link_opens_the_report_without_a_token_and_holds_none(demo: Demo) -> None:
    link = demo.link(demo.viewer).json()["data"]["reportLink"]
    url = link["url"]

    opened = httpx.get(url, timeout=60)

    assert opened.status_code == 200
    assert "Community Safety Plan 2012-13" in opened.text
    assert demo.viewer not in url and "mlt_" not in url
    assert url.endswith(link["path"])
    assert opened.headers["referrer-policy"] == "no-referrer"
    assert "script-src" not in opened.headers["content-security-policy"]  # default-src 'none': no script runs


def test_a_report_link_altered_or_used_for_another_plan_or_moment_is_refused(demo: Demo) -> None:
    url = demo.link(demo.viewer).json()["data"]["reportLink"]["url"]
    at = url.rindex(".") + 5  # a character of the signature (the last one's low bits may not count)
    signature_cut = url[:at] + ("A" if url[at] != "A" else "B") + url[at + 1 :]
    other_plan = url.replace(str(demo.plan_id), "00000000-0000-0000-0000-000000000001")

    assert httpx.get(signature_cut, timeout=30).status_code == 403
    assert httpx.get(other_plan, timeout=30).status_code == 403
    assert httpx.get(url + "&asOf=2030-01-01T00:00:00Z", timeout=30).status_code == 403


def test_a_viewer_reads_the_present_but_neither_the_past_nor_the_history(demo: Demo) -> None:
    page = demo.get(demo.viewer)
    refused_link = demo.link(demo.viewer, "2030-01-01T00:00:00Z").json()["errors"][0]

    assert page.status_code == 200
    assert "/history" not in page.text
    assert demo.get(demo.viewer, asOf="2030-01-01T00:00:00Z").status_code == 403
    assert refused_link["extensions"]["code"] == "FORBIDDEN"


def test_a_principal_of_another_partnership_can_neither_read_the_report_nor_get_a_link(demo: Demo) -> None:
    assert demo.get(demo.outsider).status_code == 403
    assert demo.link(demo.outsider).json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_in_public_mode_anyone_reads_the_current_report_but_not_the_past_or_the_history(demo: Demo) -> None:
    with serving(demo.database_url, public_read=True) as public:
        anonymous = Demo(demo.database_url, public.url, demo.plan_id, "", "", "")
        page = anonymous.get()
        past = anonymous.get(asOf="2030-01-01T00:00:00Z")
        measure = re.search(r"/reports/[^/]+/measures/([0-9a-f-]+)/history", demo.get(demo.auditor).text)
        assert measure is not None
        history = anonymous.get(path=f"/measures/{measure.group(1)}/history")

    assert page.status_code == 200 and "5.1" in page.text
    assert "/history" not in page.text
    assert past.status_code == 401
    assert history.status_code == 401


def test_the_csv_gives_every_figure_with_the_changes_worked_out_by_hand_and_the_pages_digest(demo: Demo) -> None:
    response = demo.get(demo.viewer, format="csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    page = demo.get(demo.viewer).text

    assert response.headers["content-type"].startswith("text/csv")
    changes = {(r["measure"], r["component"], r["quarter"]): r["change"] for r in rows}
    for number, component, quarter, change in HAND_CHECKED:
        assert changes[(number, component, quarter)] == change
    assert {r["measure"] for r in rows} == set(re.findall(r'data-measure="([\d.]+)"', page))
    assert {r["digest"] for r in rows} == {_digest(page)}


def test_the_pdf_is_the_same_report_on_a4_landscape_paper(demo: Demo) -> None:
    from weasyprint import HTML

    response = demo.get(demo.viewer, format="pdf")
    pages = HTML(string=demo.get(demo.viewer).text, media_type="print").render().pages

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert 'filename="report-community-safety-plan-2012-13-position-' in response.headers["content-disposition"]
    # 297 mm by 210 mm, in CSS pixels of 1/96 inch
    assert (round(pages[0].width), round(pages[0].height)) == (1123, 794)


def _digest(page: str) -> str:
    found = re.search(r'<code id="digest">(\d+:[0-9a-f]{64})</code>', page)
    assert found is not None, "the page prints no digest"
    return found.group(1)

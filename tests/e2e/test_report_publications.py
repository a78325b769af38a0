"""The board report of a publication over HTTP: the 2012-13 demo's Q2 board paper as it was presented, read at
the publication's position, its own digest printed and verified, a figure revised since marked, its CSV and PDF,
who may open it, and bad publication ids refused."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from service.auth.tokens import create_token
from service.cli import main
from tests.conftest import DatabaseFactory
from tests.e2e.demo import of_stockton, revise_after_publication, served_to_the_officer
from tests.e2e.live import GraphQLClient, serving
from tests.e2e.test_report import Demo as Served
from tests.e2e.test_report_moments import cell, digest, row

Q2_TITLE = "Safer Stockton Partnership board, 27 November 2012"
PUBLISHED = """query($id: ID!, $publication: ID) { plan(id: $id, publication: $publication) {
  publications { id quarter title presentedOn position digest }
  measures { number components { key figures { quarter revision revisedAfterPublication } } } } }"""
LINK = """query($plan: ID!, $publication: ID, $asOf: DateTime, $format: ReportFormat! = HTML) {
  reportLink(planId: $plan, publication: $publication, asOf: $asOf, format: $format) { url path } }"""


@dataclass(frozen=True)
class Demo(Served):
    publications: dict[str, dict[str, Any]]  # by quarter, as GraphQL gives them
    shown: dict[str, Any]  # plan(id, publication: Q2) before the revision
    before: str  # the Q2 publication's page before the revision

    def q2(self, token: str | None = None, **params: str) -> httpx.Response:
        return self.get(token, publication=self.publications["Q2"]["id"], **params)

    def link_to(self, token: str, **variables: str) -> httpx.Response:
        return GraphQLClient(self.url, token).post(LINK, {"plan": str(self.plan_id), **variables})


@pytest.fixture(scope="module")
def demo(new_database: DatabaseFactory) -> Iterator[Demo]:
    """The demo served; 5.1's Q2 figure reopened and revised after the Q2 board saw it."""
    database_url = new_database()
    with served_to_the_officer(database_url) as (officer, plan_id):
        plan = officer.execute(PUBLISHED, {"id": str(plan_id)})["plan"]
        publications = {p["quarter"]: p for p in plan["publications"]}
        viewer = of_stockton(database_url, "viewer")
        shown = officer.execute(PUBLISHED, {"id": str(plan_id), "publication": publications["Q2"]["id"]})["plan"]
        before = httpx.get(
            f"{officer.url}/reports/{plan_id}",
            params={"publication": publications["Q2"]["id"]},
            headers={"authorization": f"Bearer {viewer}"},
            timeout=60,
        ).text
        revise_after_publication(officer, plan_id)
        yield Demo(
            database_url,
            officer.url,
            plan_id,
            viewer=viewer,
            auditor=of_stockton(database_url, "auditor"),
            outsider=create_token(database_url, "viewer@elsewhere.example", partnership="Elsewhere", roles=["viewer"]),
            publications=publications,
            shown=shown,
            before=before,
        )


def test_the_publications_page_names_it_and_prints_its_own_position_and_digest(demo: Demo) -> None:
    q2 = demo.publications["Q2"]
    page = demo.q2(demo.viewer).text

    assert f'The Q2 report as presented: <strong id="publication-title">{Q2_TITLE}</strong>' in page
    assert '<dd id="presented">27 November 2012</dd>' in page
    assert f'<dd id="position">{q2["position"]}</dd>' in page
    assert digest(page) == q2["digest"]
    assert f"measure-ledger verify --digest {q2['digest']}" in page


def test_the_publications_page_shows_the_figures_plan_publication_shows_whatever_changed_since(demo: Demo) -> None:
    rows = list(csv.DictReader(io.StringIO(demo.q2(demo.viewer, format="csv").text)))
    on_page = {(r["measure"], r["component"], r["quarter"]): int(r["revision"]) for r in rows if r["component"]}
    published = {
        (m["number"], c["key"], f["quarter"]): f["revision"]
        for m in demo.shown["measures"]
        for c in m["components"]
        for f in c["figures"]
    }

    assert on_page == published
    assert not any(q == "Q3" for _, _, q in on_page)  # Q3 had not been collected when the board met
    assert ">995<" in cell(demo.q2(demo.viewer).text, "5.1", "Q2")  # as presented, not as revised


def test_a_figure_revised_after_the_publication_is_marked_on_its_page_in_words(demo: Demo) -> None:
    page = demo.q2(demo.viewer).text
    revised = cell(page, "5.1", "Q2")

    assert 'data-revised="true"><strong>Changed since:</strong> now 1,001 (revision 2' in revised
    assert "late crimes recorded" in revised
    assert "1 figure changed after this publication" in page
    assert "Changed since" not in cell(page, "5.1", "Q1") and "Changed since" not in row(page, "5.2")
    assert "Changed since" not in demo.before  # nothing was, when the board's copy was printed
    assert "Changed since" not in demo.get(demo.viewer, publication=demo.publications["Q1"]["id"]).text


def test_the_csv_of_a_publication_carries_its_digest_title_and_what_changed_since(demo: Demo) -> None:
    response = demo.q2(demo.viewer, format="csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    revised = next(r for r in rows if (r["measure"], r["component"], r["quarter"]) == ("5.1", "criminal-damage", "Q2"))

    assert response.headers["content-type"].startswith("text/csv")
    assert (
        'filename="report-community-safety-plan-2012-13-q2-published-position-'
        in response.headers["content-disposition"]
    )
    assert {r["digest"] for r in rows} == {demo.publications["Q2"]["digest"]}
    assert {r["publication"] for r in rows} == {Q2_TITLE}
    assert (revised["figure"], revised["changed_since"]) == ("995", "1,001")
    assert len({r["measure"] for r in rows}) == 17


def test_the_pdf_of_a_publication_is_its_page_on_paper(demo: Demo) -> None:
    response = demo.q2(demo.viewer, format="pdf")

    assert response.status_code == 200
    assert response.content.startswith(b"%PDF-")
    assert "-q2-published-position-" in response.headers["content-disposition"]


def test_the_printed_digest_verifies_with_the_cli(
    demo: Demo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", demo.database_url)
    printed = digest(demo.q2(demo.viewer).text)

    assert main(["verify", "--digest", printed]) == 0
    assert f"matches the published digest {printed}" in capsys.readouterr().out


def test_bad_publication_ids_are_refused_with_the_field_and_a_clear_code(demo: Demo) -> None:
    not_an_id = demo.get(demo.viewer, publication="Q2")
    unknown = demo.get(demo.viewer, publication="00000000-0000-0000-0000-000000000002")
    both = demo.q2(demo.auditor, asOf="2012-12-01T00:00:00Z")
    in_a_browser = httpx.get(
        unknown.url, headers={"authorization": f"Bearer {demo.viewer}", "accept": "text/html"}, timeout=30
    )
    link = demo.link_to(demo.viewer, publication="00000000-0000-0000-0000-000000000002").json()["errors"][0]
    malformed = demo.link_to(demo.viewer, publication="Q2").json()["errors"][0]

    assert not_an_id.status_code == 400
    assert not_an_id.json()["errors"][0]["extensions"] == {"code": "VALIDATION", "field": "publication"}
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "publication"}
    assert both.status_code == 400 and both.json()["errors"][0]["extensions"]["field"] == "publication"
    assert in_a_browser.status_code == 404 and "has no publication" in in_a_browser.text
    assert (link["extensions"]["code"], link["extensions"]["field"]) == ("NOT_FOUND", "publication")
    assert (malformed["extensions"]["code"], malformed["extensions"]["field"]) == ("VALIDATION", "publication")


def test_a_publication_needs_a_token_or_a_link_and_is_not_for_another_partnership(demo: Demo) -> None:
    assert demo.q2().status_code == 401
    assert demo.q2(demo.outsider).status_code == 403
    refused = demo.link_to(demo.outsider, publication=demo.publications["Q2"]["id"]).json()["errors"][0]
    assert refused["extensions"]["code"] == "FORBIDDEN"


def test_a_report_link_to_a_publication_opens_it_without_a_token_and_only_it(demo: Demo) -> None:
    q1, q2 = demo.publications["Q1"]["id"], demo.publications["Q2"]["id"]
    url = demo.link_to(demo.viewer, publication=q2).json()["data"]["reportLink"]["url"]
    current = demo.link_to(demo.viewer).json()["data"]["reportLink"]["url"]
    csv_url = demo.link_to(demo.viewer, publication=q2, format="CSV").json()["data"]["reportLink"]["url"]

    opened = httpx.get(url, timeout=60)
    assert opened.status_code == 200 and Q2_TITLE in opened.text
    assert demo.viewer not in url and "mlt_" not in url
    assert digest(opened.text) == demo.publications["Q2"]["digest"]
    assert httpx.get(csv_url, timeout=60).text.splitlines()[1].endswith(f'"{Q2_TITLE}"')
    assert httpx.get(url.replace(q2, q1), timeout=30).status_code == 403
    assert httpx.get(url + "&asOf=2012-12-01T00:00:00Z", timeout=30).status_code == 400
    assert httpx.get(current + f"&publication={q2}", timeout=30).status_code == 403


def test_each_figure_of_an_auditors_publication_page_links_to_its_history_and_a_viewers_does_not(
    demo: Demo,
) -> None:
    url = demo.link_to(demo.auditor, publication=demo.publications["Q2"]["id"]).json()["data"]["reportLink"]["url"]
    page = httpx.get(url, timeout=60).text
    link = re.search(r'href="([^"]+#fig-criminal-damage-Q2)"', row(page, "5.1"))
    assert link is not None
    history = httpx.get(demo.url + link.group(1).replace("&amp;", "&").split("#")[0], timeout=30)
    section = re.search(r'<section id="fig-criminal-damage-Q2".*?</section>', history.text, re.S)

    assert history.status_code == 200 and section is not None
    assert re.findall(r'<tr class="(after)?">', section.group(0)) == ["", "after"]
    assert "/history" not in demo.q2(demo.viewer).text


def test_in_public_mode_anyone_reads_a_publication_but_only_what_the_public_may_see(demo: Demo) -> None:
    with serving(demo.database_url, public_read=True) as public:
        anonymous = Demo(**{**demo.__dict__, "url": public.url})
        page = anonymous.q2()
        past = anonymous.get(asOf="2012-12-01T00:00:00Z")

    assert page.status_code == 200 and Q2_TITLE in page.text
    assert digest(page.text) == demo.publications["Q2"]["digest"]
    assert "Changed since:</strong> now 1,001" in cell(page.text, "5.1", "Q2")
    assert "/history" not in page.text
    assert past.status_code == 401

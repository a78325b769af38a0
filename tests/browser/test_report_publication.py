"""The 2012-13 demo's Q2 board paper in headless Chromium, opened from a signed link, offline: the publication
named, its digest printed and verified with the CLI, a figure revised after the board met marked in words, and
the page against axe-core."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page

from service.cli import main
from tests.browser.harness import Axe, assert_accessible_on_a_desktop_and_a_phone
from tests.conftest import DatabaseFactory
from tests.e2e.demo import of_stockton, revise_after_publication, served_to_the_officer
from tests.e2e.live import GraphQLClient

Q2_TITLE = "Safer Stockton Partnership board, 27 November 2012"
PLAN = "query($id: ID!) { plan(id: $id) { publications { id quarter digest } } }"
LINK = "query($plan: ID!, $publication: ID) { reportLink(planId: $plan, publication: $publication) { url } }"


@dataclass(frozen=True)
class Paper:
    database_url: str
    link: str  # to the Q2 publication's page, made by an auditor of the partnership
    digest: str  # Publication.digest, as GraphQL gives it


@pytest.fixture(scope="module")
def paper(new_database: DatabaseFactory) -> Iterator[Paper]:
    """The demo served, 5.1's Q2 criminal damage figure revised after the Q2 board saw it."""
    database_url = new_database()
    with served_to_the_officer(database_url) as (officer, plan_id):
        plan = officer.execute(PLAN, {"id": str(plan_id)})["plan"]
        q2 = next(p for p in plan["publications"] if p["quarter"] == "Q2")
        revise_after_publication(officer, plan_id)
        auditor = of_stockton(database_url, "auditor")
        link = GraphQLClient(officer.url, auditor).execute(LINK, {"plan": str(plan_id), "publication": q2["id"]})
        yield Paper(database_url, link["reportLink"]["url"], q2["digest"])


def test_the_q2_board_paper_names_itself_prints_its_digest_and_marks_the_figure_revised_since(
    page: Page, paper: Paper, screenshots: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    page.goto(paper.link)
    page.screenshot(path=str(screenshots / "report-2012-13-q2-publication.png"), full_page=True)
    printed = page.locator("#digest").inner_text()
    figure = page.locator('tr[data-measure="5.1"] td[data-quarter="Q2"] .figure[data-component="criminal-damage"]')

    assert page.locator("#publication-title").inner_text() == Q2_TITLE
    assert page.locator("#presented").inner_text() == "27 November 2012"
    assert page.locator("tr[data-measure]").count() == 17
    assert printed == paper.digest
    monkeypatch.setenv("DATABASE_URL", paper.database_url)
    assert main(["verify", "--digest", printed]) == 0
    assert f"matches the published digest {printed}" in capsys.readouterr().out
    assert figure.locator(".value").inner_text().startswith("995")  # as the board saw it
    assert figure.locator(".flag.revised").inner_text().startswith("Changed since: now 1,001 (revision 2")
    assert page.locator("#revised-notice").inner_text().startswith("1 figure changed after this publication")
    assert page.locator(".flag.revised").count() == 1


def test_the_board_paper_has_no_accessibility_violations_on_a_desktop_or_a_phone(
    page: Page, paper: Paper, axe: Axe
) -> None:
    page.goto(paper.link)

    assert_accessible_on_a_desktop_and_a_phone(page, axe)

"""The 2012-13 board report in headless Chromium, opened as a person would: from a signed link, offline.

The figures, changes and statuses on the page are checked against docs/rules.md's
tables of the plan worked out by hand, and the page against axe-core.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from playwright.sync_api import Page

from service.report.marks import MARKS
from tests.browser.harness import Axe, assert_accessible_on_a_desktop_and_a_phone
from tests.conftest import DatabaseFactory
from tests.e2e.demo import of_stockton, serving_demo
from tests.e2e.live import GraphQLClient
from tests.unit.test_rules_document import number, table

LINK = "query($plan: ID!) { reportLink(planId: $plan) { url expiresAt } }"
WORDS = {status: m.words for status, m in MARKS.items()}


@dataclass(frozen=True)
class Demo:
    link: str
    plan_id: UUID


@pytest.fixture(scope="module")
def demo(new_database: DatabaseFactory) -> Iterator[Demo]:
    """The demo plan served, and a signed link to its report made by an auditor of the partnership."""
    database_url = new_database()
    with serving_demo(database_url) as (server, plan_id):
        auditor = of_stockton(database_url, "auditor")
        link = GraphQLClient(server.url, auditor).execute(LINK, {"plan": str(plan_id)})["reportLink"]["url"]
        yield Demo(link, plan_id)


def test_the_report_shows_every_measure_of_2012_13_with_the_figures_and_statuses_worked_out_by_hand(
    page: Page, demo: Demo, screenshots: Path
) -> None:
    page.goto(demo.link)
    page.screenshot(path=str(screenshots / "report-2012-13.png"), full_page=True)

    statuses = table("### Statuses")
    rows = page.locator("tr[data-measure]")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.measure)") == [s["measure"] for s in statuses]
    for s in statuses:
        row = page.locator(f'tr[data-measure="{s["measure"]}"]')
        assert row.locator("td.status").inner_text().strip().endswith(WORDS[s["current status"]]), s["measure"]
        assert row.locator('td[data-quarter="Q1"]').get_attribute("data-status") == s["Q1"], s["measure"]
        q2 = s["Q2 override"] if s["Q2 override"] != "—" else s["Q2"]
        assert row.locator('td[data-quarter="Q2"]').get_attribute("data-status") == q2, s["measure"]
    for c in table("### Changes"):
        cell = page.locator(f'tr[data-measure="{c["measure"]}"] td[data-quarter="{c["quarter"]}"]')
        figure = cell.locator(f'.figure[data-component="{c["component"]}"]')
        text = figure.inner_text()
        assert c["figure"].split(" (")[0] in text, c
        assert Decimal(figure.get_attribute("data-change") or "") == number(c["change"]), c
        assert c["change"].split(" ")[0] in text, c  # as the page writes it: `−16.4 points`, `+22.4 %`
        assert figure.get_attribute("data-status") == c["status"], c
    assert page.locator(".flag.discrepancy").count() == len(table("### Discrepancies in the report"))


def test_every_status_mark_has_a_symbol_and_words_and_every_chart_says_what_it_shows(page: Page, demo: Demo) -> None:
    page.goto(demo.link)

    marks = page.locator(".mark").evaluate_all(
        "marks => marks.map(m => [m.querySelector('.symbol[aria-hidden=true]')?.textContent, m.innerText.trim()])"
    )
    charts = page.locator("svg.chart[role=img]").evaluate_all(
        "svgs => svgs.map(s => document.getElementById(s.getAttribute('aria-labelledby')).textContent)"
    )

    assert len(marks) >= page.locator(".figure").count() + 17  # one per figure and one per measure, at least
    for symbol, text in marks:
        assert symbol and text.removeprefix(symbol).strip() in WORDS.values(), (symbol, text)
    assert len(charts) >= 17 + 7  # every measure with a figure, one per component, and the summary's bars
    assert (
        "5.1 Criminal damage offences, by quarter against the baseline: Q1 492 against 618 (on track)"
        in charts[next(i for i, c in enumerate(charts) if c.startswith("5.1 "))]
    )


def test_the_report_has_no_accessibility_violations_on_a_desktop_or_a_phone(page: Page, demo: Demo, axe: Axe) -> None:
    page.goto(demo.link)

    assert_accessible_on_a_desktop_and_a_phone(page, axe)


def test_the_browser_prints_the_report_on_a4_landscape_pages_with_its_digest(page: Page, demo: Demo) -> None:
    page.goto(demo.link)
    printed = page.pdf(prefer_css_page_size=True)
    digest = page.locator("#digest").inner_text()

    sizes = {tuple(round(float(n)) for n in box.split()[2:]) for box in re.findall(rb"/MediaBox \[([^\]]*)\]", printed)}
    assert sizes == {(842, 595)}  # A4 landscape, in points
    page.emulate_media(media="print")
    assert page.locator(".formats").is_hidden()  # links to other formats are no use on paper
    assert page.locator("footer.page-foot").inner_text().endswith(f"digest {digest}.")

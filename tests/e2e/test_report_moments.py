"""A report of an earlier moment: the same position and digest every time, the figures revised since marked,
each figure's history a link away, and its printed digest verified by `measure-ledger verify --digest`."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import httpx
import pytest

from service.cli import main
from tests.e2e.demo import of_stockton, revise_after_publication, served_to_the_officer

MEASURES = "query($id: ID!) { plan(id: $id) { measures { id number } } }"
RESET = """mutation($input: ResetBaselineInput!) { resetBaseline(input: $input) { position } }"""
METHOD = "baseline re-set using new repeat identification methodology"


@dataclass(frozen=True)
class Story:
    """The demo at a moment, then a figure revised and a baseline reset after it."""

    database_url: str
    url: str
    plan_id: UUID
    auditor: str
    moment: str
    then: str  # the page of the moment, fetched before the changes
    measures: dict[str, str]

    def page(self, **params: str) -> str:
        response = httpx.get(
            f"{self.url}/reports/{self.plan_id}",
            params=params,
            headers={"authorization": f"Bearer {self.auditor}"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return response.text


@pytest.fixture(scope="module")
def story(new_database: object) -> Iterator[Story]:
    database_url = new_database()  # type: ignore[operator]
    with served_to_the_officer(database_url) as (operator, plan_id):
        auditor = of_stockton(database_url, "auditor")
        measures = {m["number"]: m["id"] for m in operator.execute(MEASURES, {"id": str(plan_id)})["plan"]["measures"]}
        time.sleep(0.01)
        moment = datetime.now(UTC).isoformat()
        story = Story(database_url, operator.url, plan_id, auditor, moment, "", measures)
        story = Story(**{**story.__dict__, "then": story.page(asOf=moment)})
        revise_after_publication(operator, plan_id)
        reset = {
            "measureId": measures["4.3"],
            "component": "repeat-positive-tests",
            "value": "50",
            "period": "2011/12",
            "reason": METHOD,
        }
        operator.execute(RESET, {"input": reset})
        yield story


def cell(page: str, number: str, quarter: str) -> str:
    row = re.search(rf'<tr id="measure-{re.escape(number)}".*?</tr>', page, re.S)
    assert row is not None, number
    found = re.search(rf'data-quarter="{quarter}".*?</td>', row.group(0), re.S)
    assert found is not None, (number, quarter)
    return found.group(0)


def row(page: str, number: str) -> str:
    found = re.search(rf'<tr id="measure-{re.escape(number)}".*?</tr>', page, re.S)
    assert found is not None, number
    return found.group(0)


def digest(page: str) -> str:
    found = re.search(r'<code id="digest">(\d+:[0-9a-f]{64})</code>', page)
    assert found is not None
    return found.group(1)


def test_the_page_of_a_moment_shows_the_same_position_and_digest_after_later_changes(story: Story) -> None:
    again = story.page(asOf=story.moment)
    now = story.page()

    assert digest(again) == digest(story.then)
    assert int(digest(now).split(":")[0]) > int(digest(again).split(":")[0])


def test_a_figure_revised_after_the_moment_is_marked_on_that_moments_page_with_what_it_is_now(story: Story) -> None:
    then = cell(story.page(asOf=story.moment), "5.1", "Q2")
    before = cell(story.then, "5.1", "Q2")

    assert ">995<" in then
    assert "Changed since:</strong> now 1,001 (revision 2" in then and "late crimes recorded" in then
    assert "Changed since" not in before  # not until it was revised
    assert "Changed since" not in cell(story.page(asOf=story.moment), "5.1", "Q1")


def test_the_current_page_shows_the_revision_and_the_reset_as_such_with_their_reasons(story: Story) -> None:
    now = story.page()

    assert ">1,001<" in cell(now, "5.1", "Q2") and "Revision 2: late crimes recorded" in cell(now, "5.1", "Q2")
    assert "Changed since" not in now
    assert re.search(rf"Baseline reset \d+ \w+ \d{{4}}: {METHOD}</span> \(before: 52\)", row(now, "4.3"))
    assert "Baseline (2011/12): <strong>50</strong>" in row(now, "4.3")


def test_a_baseline_reset_after_the_moment_is_marked_on_that_moments_page(story: Story) -> None:
    then = row(story.page(asOf=story.moment), "4.3")

    assert "Baseline (2011/12): <strong>52</strong>" in then
    assert "Changed since:</strong> baseline reset to 50 after this position" in then


def test_each_figure_links_to_its_history_where_the_entries_after_the_report_are_marked(story: Story) -> None:
    link = re.search(r'href="([^"]+#fig-criminal-damage-Q2)"', row(story.page(asOf=story.moment), "5.1"))
    assert link is not None
    history = httpx.get(
        story.url + link.group(1).replace("&amp;", "&").split("#")[0],
        headers={"authorization": f"Bearer {story.auditor}"},
        timeout=30,
    ).text
    section = re.search(r'<section id="fig-criminal-damage-Q2".*?</section>', history, re.S)

    assert section is not None
    entries = re.findall(r"<tr class=\"(after)?\">.*?<td>.*?</td>\s*<td>(.*?)</td>\s*<td>(\w+)", section.group(0), re.S)
    assert [(after, action) for after, _, action in entries] == [("", "FigureSubmitted"), ("after", "FigureRevised")]


def test_the_digests_printed_on_both_pages_verify_with_the_cli_and_a_forged_one_does_not(
    story: Story, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", story.database_url)
    then, now = digest(story.then), digest(story.page())
    forged = then[:-1] + ("0" if then[-1] != "0" else "1")

    assert main(["verify", "--digest", then]) == 0
    assert f"matches the published digest {then}" in capsys.readouterr().out
    assert main(["verify", "--digest", now]) == 0
    assert main(["verify", "--digest", forged]) == 1
    assert "does NOT match" in capsys.readouterr().out

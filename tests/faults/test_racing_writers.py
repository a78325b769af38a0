"""Writers racing on one measure through two `serve` processes: without expectedVersion every write lands,
once, each at its own version; with it, each version is won by exactly one writer and the others are told
CONFLICT with the version to read again."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from tests.faults.checks import assert_read_model_is_a_rebuild, assert_verified, figures, stored_commentary
from tests.faults.conftest import measures_to_write_on
from tests.faults.load import write
from tests.faults.served import Served

pytestmark = [pytest.mark.faults, pytest.mark.slow]

RACERS, EACH = 6, 8


@dataclass(frozen=True)
class Race:
    """Two service processes on one database, and a measure to race on from its `start` version."""

    both: list[Served]
    measure: str
    start: int
    database_url: str
    token: str

    def run(self, racer: Callable[[int, httpx.Client, str], list[int]]) -> list[int]:
        """Run racer(n, http, url) for each of the racers, each on one of the two processes in turn, and stop
        the service; the versions they were answered with, each once and none skipped, a read model a rebuild
        makes and a clean hash chain."""

        def racing(n: int) -> list[int]:
            with httpx.Client(timeout=60, headers={"authorization": f"Bearer {self.token}"}) as http:
                return racer(n, http, self.both[n % 2].url)

        with ThreadPoolExecutor(RACERS) as pool:
            versions = [v for found in pool.map(racing, range(RACERS)) for v in found]
        for served in self.both:
            served.stop()
        expected = list(range(self.start + 1, self.start + 1 + RACERS * EACH))
        assert sorted(versions) == expected, "a version twice, or skipped"
        assert_read_model_is_a_rebuild(self.database_url)
        assert_verified(self.database_url)
        return versions

    def figures(self, scenario: str, writes: int, **counted: Counter[int]) -> None:
        """The race's figures: its writers and writes, each of `counted` summed over the writers."""
        sums = {name: sum(counter.values()) for name, counter in counted.items()}
        figures(scenario, writers=RACERS, writes=writes, **sums, processes=len(self.both))


@pytest.fixture
def race(serve: Callable[..., Served], fault_database: str, operator_token: str) -> Race:
    both = [serve(), serve()]
    for served in both:
        served.start()
    _, [measure] = measures_to_write_on(both[0].url, operator_token, 1)
    return Race(both, measure, current_version(both[1].url, operator_token, measure), fault_database, operator_token)


def current_version(url: str, token: str, measure: str) -> int:
    body = httpx.post(
        url + "/graphql",
        json={"query": "query($id: ID!) { measure(id: $id) { version } }", "variables": {"id": measure}},
        headers={"authorization": f"Bearer {token}"},
    ).json()
    return int(body["data"]["measure"]["version"])


def test_racing_writers_without_expected_version_all_land_once_each_at_its_own_version(race: Race) -> None:
    kept_changing: Counter[int] = Counter()

    def racer(n: int, http: httpx.Client, url: str) -> list[int]:
        found = []
        for i in range(EACH):
            while errors := (body := write(http, url, race.measure, f"racer-{n}-{i}")).get("errors"):
                # The service made the command again on each newer state, several times, and every time
                # another write landed first: it says so, and the client sends the same key again.
                assert "kept changing" in errors[0]["message"], errors
                kept_changing[n] += 1
            found.append(body["data"]["updateCommentary"]["version"])
        return found

    versions = race.run(racer)

    stored = stored_commentary(race.database_url)
    assert {k: stored[k] for k in stored if k.startswith("racer-")} == {
        f"racer-{n}-{i}": 1 for n in range(RACERS) for i in range(EACH)
    }
    race.figures("racing writers, no expectedVersion", len(versions), kept_changing_answers=kept_changing)


def test_racing_writers_with_expected_version_win_each_version_once_and_are_told_the_current_one(race: Race) -> None:
    conflicts: Counter[int] = Counter()

    def racer(n: int, http: httpx.Client, url: str) -> list[int]:
        won: list[int] = []
        expected, attempt = race.start, 0
        while len(won) < EACH:
            attempt += 1
            body = write(http, url, race.measure, f"versioned-{n}-{attempt}", expected)
            if errors := body.get("errors"):
                [error] = errors
                assert error["extensions"]["code"] == "CONFLICT", error
                assert error["extensions"]["currentVersion"] > expected, error
                conflicts[n] += 1
                expected = error["extensions"]["currentVersion"]
                continue
            version = body["data"]["updateCommentary"]["version"]
            assert version == expected + 1
            won.append(version)
            expected = version
        return won

    won = race.run(racer)

    stored = stored_commentary(race.database_url)
    assert sum(n for k, n in stored.items() if k.startswith("versioned-")) == len(won)
    assert max(stored.values()) == 1
    race.figures("racing writers, expectedVersion", len(won), conflicts=conflicts)

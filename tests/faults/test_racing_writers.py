"""Writers racing on one measure through two `serve` processes: without expectedVersion every write lands,
once, each at its own version; with it, each version is won by exactly one writer and the others are told
CONFLICT with the version to read again."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.faults.checks import assert_read_model_is_a_rebuild, assert_verified, figures, stored_commentary
from tests.faults.conftest import measures_to_write_on
from tests.faults.load import write
from tests.faults.served import Served

pytestmark = [pytest.mark.faults, pytest.mark.slow]

RACERS, EACH = 6, 8


def racing(serve: Callable[..., Served], token: str) -> tuple[list[Served], str, int]:
    """Two service processes on one database, and a measure to race on with its current version."""
    both = [serve(), serve()]
    for served in both:
        served.start()
    _, [measure] = measures_to_write_on(both[0].url, token, 1)
    return both, measure, current_version(both[1].url, token, measure)


def current_version(url: str, token: str, measure: str) -> int:
    body = httpx.post(
        url + "/graphql",
        json={"query": "query($id: ID!) { measure(id: $id) { version } }", "variables": {"id": measure}},
        headers={"authorization": f"Bearer {token}"},
    ).json()
    return int(body["data"]["measure"]["version"])


def raced(both: list[Served], start: int, racer: Callable[[int], list[int]], database_url: str) -> list[int]:
    """Run the racers to the end and stop the service; the versions they were answered with, each once and
    none skipped, a read model a rebuild makes and a clean hash chain."""
    with ThreadPoolExecutor(RACERS) as pool:
        versions = [v for found in pool.map(racer, range(RACERS)) for v in found]
    for served in both:
        served.stop()
    assert sorted(versions) == list(range(start + 1, start + 1 + RACERS * EACH)), "a version twice, or skipped"
    assert_read_model_is_a_rebuild(database_url)
    assert_verified(database_url)
    return versions


def test_racing_writers_without_expected_version_all_land_once_each_at_its_own_version(
    serve: Callable[..., Served], fault_database: str, operator_token: str
) -> None:
    both, measure, start = racing(serve, operator_token)
    kept_changing: Counter[int] = Counter()

    def racer(n: int) -> list[int]:
        url = both[n % 2].url
        with httpx.Client(timeout=60, headers={"authorization": f"Bearer {operator_token}"}) as http:
            found = []
            for i in range(EACH):
                while errors := (body := write(http, url, measure, f"racer-{n}-{i}")).get("errors"):
                    # The service made the command again on each newer state, several times, and every time
                    # another write landed first: it says so, and the client sends the same key again.
                    assert "kept changing" in errors[0]["message"], errors
                    kept_changing[n] += 1
                found.append(body["data"]["updateCommentary"]["version"])
            return found

    versions = raced(both, start, racer, fault_database)

    stored = stored_commentary(fault_database)
    assert {k: stored[k] for k in stored if k.startswith("racer-")} == {
        f"racer-{n}-{i}": 1 for n in range(RACERS) for i in range(EACH)
    }
    figures(
        "racing writers, no expectedVersion",
        writers=RACERS,
        writes=len(versions),
        kept_changing_answers=sum(kept_changing.values()),
        processes=2,
    )


def test_racing_writers_with_expected_version_win_each_version_once_and_are_told_the_current_one(
    serve: Callable[..., Served], fault_database: str, operator_token: str
) -> None:
    both, measure, start = racing(serve, operator_token)
    conflicts: Counter[int] = Counter()

    def racer(n: int) -> list[int]:
        url = both[n % 2].url
        won: list[int] = []
        expected, attempt = start, 0
        with httpx.Client(timeout=60, headers={"authorization": f"Bearer {operator_token}"}) as http:
            while len(won) < EACH:
                attempt += 1
                body = write(http, url, measure, f"versioned-{n}-{attempt}", expected)
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

    won = raced(both, start, racer, fault_database)

    stored = stored_commentary(fault_database)
    assert sum(n for k, n in stored.items() if k.startswith("versioned-")) == len(won)
    assert max(stored.values()) == 1
    figures(
        "racing writers, expectedVersion",
        writers=RACERS,
        writes=len(won),
        conflicts=sum(conflicts.values()),
        processes=2,
    )

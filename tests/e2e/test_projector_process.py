"""`measure-ledger serve` projects in a process of its own; if that process dies, the web process leads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from projections.locks import LOCK_KEY
from projections.runner import leaders
from service.auth.tokens import create_token
from tests.e2e.given import a_plan
from tests.e2e.live import GraphQLClient
from tests.e2e.processes import children_of, free_port, interrupt, lock_holder

pytestmark = pytest.mark.slow  # runs `serve` and its projector process, and kills them

CLI = Path(sys.executable).with_name("measure-ledger")
PLANS = "{ plans { id } }"


@contextmanager
def serve(database_url: str) -> Iterator[tuple[str, int]]:
    """`measure-ledger serve` on a database of its own; yields its URL and its projector process's pid."""
    with serving(database_url) as (url, _, projector):
        yield url, projector


@contextmanager
def serving(database_url: str, **settings: str) -> Iterator[tuple[str, subprocess.Popen[bytes], int]]:
    """As `serve`, yielding the serve process too; `settings` add to its environment."""
    port = free_port()
    # A write waits a second, not ten, for a read model that does not move.
    env = {**os.environ, "DATABASE_URL": database_url, "ML_WRITE_WAIT_SECONDS": "1", **settings}
    process = subprocess.Popen(
        [str(CLI), "serve", "--no-demo", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _healthy(url) or process.poll() is not None, 60)
        assert process.poll() is None, "serve exited early"
        yield url, process, _projector_of(process.pid)
    finally:
        if process.poll() is None:
            interrupt(process)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/health").status_code == 200
    except httpx.TransportError:
        return False


def _projector_of(pid: int) -> int:
    """The child of `pid` running `measure-ledger project`."""
    found = children_of(pid, "project")
    assert found, f"serve (pid {pid}) started no projector process"
    return found[0]


def _until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _leader_backend(database_url: str) -> int | None:
    """The PostgreSQL backend holding the projection leader's lock, if any."""
    return lock_holder(database_url, LOCK_KEY)


def _shown(client: GraphQLClient) -> set[str]:
    return {p["id"] for p in client.execute(PLANS)["plans"]}


def test_serve_projects_in_its_own_process_and_the_web_process_takes_over_when_it_dies(database_url: str) -> None:
    client_token = create_token(database_url, "alice@stockton.gov.uk")
    with serve(database_url) as (url, projector):
        client = GraphQLClient(url, client_token)
        first = a_plan(client)  # its payload read the plan back: the projector leads and projects
        assert first in _shown(client)
        assert leaders(database_url) == 1
        leader = _leader_backend(database_url)

        # Paused, the projector keeps the lead and projects nothing, and nobody projects in its place:
        # the projection is not in the web process.
        os.kill(projector, signal.SIGSTOP)
        try:
            errors = client.errors(
                "mutation($i: CreatePlanInput!) { createPlan(input: $i) { plan { id } } }",
                {
                    "i": {
                        "partnership": "Paused Partnership",
                        "title": "Written while the projector is paused",
                        "year": "2013-14",
                        "periodStart": "2013-04-01",
                        "periodEnd": "2014-03-31",
                    }
                },
            )
            # Recorded, and answered as recorded: the client must not send it again.
            assert [e["extensions"]["code"] for e in errors] == ["COMMITTED"]
            assert "is not in the read model yet" in errors[0]["message"]
            assert isinstance(errors[0]["extensions"]["position"], int)
            assert _shown(client) == {first}
        finally:
            os.kill(projector, signal.SIGCONT)
        # The write was kept: the projector shows it once it runs again.
        assert _until(lambda: len(_shown(client)) == 2, 10)

        os.kill(projector, signal.SIGKILL)
        # The web process's standby runner takes the lead (it tries every two seconds) and projects.
        assert _until(lambda: _leader_backend(database_url) not in (None, leader), 10)
        assert leaders(database_url) == 1
        last = a_plan(client)
        assert last in _shown(client) and len(_shown(client)) == 3


def test_the_projector_ends_with_serve_even_when_serve_is_killed_outright(database_url: str) -> None:
    with serving(database_url) as (url, process, projector):
        assert _healthy(url)
        process.kill()  # SIGKILL: serve cannot stop its projector itself
        process.wait()
        # Otherwise it would lead the projection for nobody, holding the lock a new serve waits on standby for.
        assert _until(lambda: not _running(projector), 15), "the projector outlived serve"
        assert _until(lambda: leaders(database_url) == 0, 15)


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# C extensions of the web stack, which show in a process's memory map once imported: the database driver the
# web process reads with, the webhook sender's HTTP client, and PyJWT's cryptography.
WEB_STACK = ("asyncpg", "aiohttp", "cryptography")


def _loaded(pid: int) -> set[str]:
    """Which of WEB_STACK a process has loaded."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {name for name in WEB_STACK if f"/{name}/" in maps}


def test_the_projector_process_loads_none_of_the_web_stack(database_url: str) -> None:
    # It only projects: each library it need not load is memory held for as long as the service runs.
    client_token = create_token(database_url, "alice@stockton.gov.uk")
    with serving(database_url) as (url, process, projector):
        client = GraphQLClient(url, client_token)
        plan = a_plan(client)  # read back from the read model: the projector has projected it
        assert plan in _shown(client)
        assert _loaded(projector) == set()
        # The same check finds them where they are used.
        assert {"asyncpg", "cryptography"} <= _loaded(process.pid)

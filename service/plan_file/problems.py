"""What is wrong with an input file, said with where it is; and reading an input file as text.

Plan files and quarterly returns share these: a file with any problem is
refused whole, every problem listed with its `file:line`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file: where, which field, what it holds, what was expected."""

    location: str
    field: str
    value: object
    expected: str

    def __str__(self) -> str:
        found = "" if self.value is None else f" (found {show(self.value)})"
        return f"{self.location}: {self.field or 'file'}: {self.expected}{found}"


class ProblemsFound(Exception):
    """An input file was refused and nothing was recorded; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        listed = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"refused, nothing recorded: {len(self.problems)} problem(s)\n{listed}")


class PlanFileError(ProblemsFound):
    """A plan file that cannot be imported."""


def show(value: object, limit: int = 60) -> str:
    """A value as a message quotes it, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def stopped(done: int, total: int, line: str, message: str, unit: str = "") -> str:
    """Why a recording stopped part way: a write the checks could not foresee (say, a concurrent one) failed."""
    counted = f"{done} of {total} {unit}".rstrip()
    return (
        f"stopped after recording {counted}: {line}: {message}."
        " What was recorded stays; import the file again to record the rest"
    )


def read_text(path: Path, what: str, error: type[ProblemsFound]) -> str:
    """The file as text; refused unread when over MAX_BYTES, and refused when empty or not UTF-8."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size <= MAX_BYTES:
            with path.open("rb") as stream:
                # Bounded, in case the file grows between stat and read.
                data = stream.read(MAX_BYTES + 1)
                size = max(size, len(data))
    except OSError as e:
        raise error([Problem(name, "", None, f"cannot read the {what}: {e.strerror or e}")]) from None
    if size > MAX_BYTES:
        limit = f"{MAX_BYTES // (1024 * 1024)} MB"
        message = f"the {what} is {size / (1024 * 1024):.1f} MB; the limit is {limit}: split it"
        raise error([Problem(name, "", None, message)])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        bad = data[e.start]
        message = (
            f"the {what} must be UTF-8 text, but byte 0x{bad:02x} at offset {e.start} is not UTF-8"
            " (was it saved as Latin-1 or Windows-1252?): save it as UTF-8"
        )
        raise error([Problem(f"{name}:{line}", "", None, message)]) from None
    if not text.strip():
        raise error([Problem(name, "", None, f"the {what} is empty")])
    return text

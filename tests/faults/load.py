"""Write load as clients that follow the API's advice make it: each write carries an idempotency key and
is retried with the same key until it is answered, however the service fails in between.

Every answer is tallied, so a scenario can assert there was no 5xx except a 503 while the database was
down (the README's documented answer then), and print how many writes and retries it took.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.e2e.ws_client import graphql_ws

# With the measure after the write, as a client shows it: a payload read that fails must not hide the write.
UPDATE_COMMENTARY = """mutation($input: UpdateCommentaryInput!) {
  updateCommentary(input: $input) { position version replayed measure { id version } } }"""


def commentary(measure: str, text: str) -> dict[str, Any]:
    """The variables of UPDATE_COMMENTARY for a commentary on a measure's Q1, keyed by its text."""
    return {"input": {"measureId": measure, "quarter": "Q1", "text": text, "idempotencyKey": text}}


def write(http: httpx.Client, url: str, measure: str, text: str, expected: int | None = None) -> dict[str, Any]:
    """One commentary on a measure's Q1, keyed by its text; the body of its answer, which must be a 200."""
    variables = commentary(measure, text)
    if expected is not None:
        variables["input"]["expectedVersion"] = expected
    response = http.post(url + "/graphql", json={"query": UPDATE_COMMENTARY, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# Until the test says otherwise, the database is up: a 503 is then a defect.
Clock = Callable[[], bool]


@dataclass
class Tally:
    """What the writers saw, shared by their threads."""

    answered: dict[str, int] = field(default_factory=dict)  # idempotency key -> position of its event
    replayed: int = 0  # answers that were a retry's (the first attempt had been recorded)
    retries: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)  # 5xx or errors outside an outage, or lost keys
    lock: threading.Lock = field(default_factory=threading.Lock)

    def figures(self) -> dict[str, int]:
        return {"writes": len(self.answered), "retries": self.retries, "replayed_answers": self.replayed}

    def note(self, problem: str) -> None:
        with self.lock:
            self.unexpected.append(problem)


@dataclass
class Writers:
    """A thread for each of `measures`, writing commentary on it, `per_writer` writes with fresh keys."""

    url: Callable[[], str]
    token: str
    measures: list[str]
    per_writer: int
    database_down: Clock = lambda: False
    give_up_seconds: float = 90
    tally: Tally = field(default_factory=Tally, init=False)
    progress: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.progress = [0] * len(self.measures)
        self._threads = [
            threading.Thread(target=self._write, args=(n,), name=f"writer-{n}", daemon=True)
            for n in range(len(self.measures))
        ]

    def start(self) -> Writers:
        for t in self._threads:
            t.start()
        return self

    def done(self) -> int:
        return sum(self.progress)

    def until_written(self, count: int, timeout: float = 60) -> None:
        """Wait until `count` writes in all have been answered."""
        deadline = time.monotonic() + timeout
        while self.done() < count:
            assert time.monotonic() < deadline, f"only {self.done()} of {count} writes answered"
            assert any(t.is_alive() for t in self._threads), "the writers stopped"
            time.sleep(0.02)

    def join(self) -> Tally:
        for t in self._threads:
            t.join(self.give_up_seconds + 30)
            assert not t.is_alive(), f"{t.name} still writing"
        return self.tally

    def _write(self, n: int) -> None:
        with httpx.Client(timeout=30, headers={"authorization": f"Bearer {self.token}"}) as http:
            for i in range(self.per_writer):
                key = f"writer-{n}-{i}"
                if not self._until_answered(http, key, commentary(self.measures[n], key)):
                    return
                self.progress[n] += 1

    def _until_answered(self, http: httpx.Client, key: str, variables: dict[str, Any]) -> bool:
        tally = self.tally
        deadline = time.monotonic() + self.give_up_seconds
        attempt = 0
        refused: str | None = None  # the last answer that said the write failed, if nothing uncertain came since
        while time.monotonic() < deadline:
            if attempt:
                with tally.lock:
                    tally.retries += 1
                time.sleep(min(0.05 * attempt, 0.5))
            attempt += 1
            down = self.database_down()
            try:
                response = http.post(self.url() + "/graphql", json={"query": UPDATE_COMMENTARY, "variables": variables})
            except httpx.TransportError:
                refused = None  # the process is gone or going; this attempt may have been recorded
                continue
            with tally.lock:
                tally.statuses[response.status_code] += 1
            during_outage = down or self.database_down()
            if response.status_code >= 500:
                if not (response.status_code == 503 and during_outage):
                    tally.note(f"{key}: {response.status_code} {response.text[:200]}")
                refused = f"{response.status_code}"
                continue
            body = response.json()
            errors = body.get("errors") or []
            codes = {e.get("extensions", {}).get("code") for e in errors}
            answer = (body.get("data") or {}).get("updateCommentary")
            if answer is None or answer.get("position") is None:
                if not during_outage:
                    tally.note(f"{key}: {response.status_code} {errors}")
                refused = ",".join(sorted(map(str, codes)))
                continue
            # Recorded: an error beside it may only say that its payload could not be read after the write.
            if codes - {"COMMITTED"}:
                tally.note(f"{key}: recorded, with errors {errors}")
            if answer["replayed"] and refused is not None:
                tally.note(f"{key}: recorded by an attempt that was answered {refused}")
            with tally.lock:
                tally.answered[key] = int(answer["position"])
                tally.replayed += bool(answer["replayed"])
            return True
        tally.note(f"{key}: never answered in {self.give_up_seconds} s")
        return False


LEDGER_EVENTS = """subscription($planId: ID, $after: String) {
  ledgerEvents(planId: $planId, after: $after) { cursor position } }"""


class Subscriber:
    """A mirror of one plan's events over graphql-transport-ws that, whenever its connection or subscription
    ends, reconnects and resumes from the cursor of the last event it received, as the API advises."""

    def __init__(self, ws_url: Callable[[], str], token: str, plan_id: str) -> None:
        self.ws_url = ws_url
        self.token = token
        self.plan_id = plan_id
        self.cursor: str | None = None
        self.positions: list[int] = []
        self.resumes = 0
        self._drop = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> Subscriber:
        self._thread.start()
        return self

    def until_seen(self, last: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.positions or self.positions[-1] < last:
            assert time.monotonic() < deadline, f"the subscriber saw up to {self.positions[-1:]}, not {last}"
            time.sleep(0.05)

    def drop(self) -> None:
        """Close the connection, as a network failure would, and so resume from the cursor."""
        self._drop.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self._follow()
            except Exception:  # noqa: BLE001 - the connection or the subscription ended: resume, whatever the cause
                pass
            if not self._stop.is_set():
                self.resumes += 1
                await asyncio.sleep(0.2)

    async def _follow(self) -> None:
        async with graphql_ws(self.ws_url(), {"Authorization": f"Bearer {self.token}"}) as ws:
            await ws.subscribe("1", LEDGER_EVENTS, {"planId": self.plan_id, "after": self.cursor})
            while not self._stop.is_set():
                if self._drop.is_set():
                    self._drop.clear()
                    return
                try:
                    message = await ws.receive("1", timeout=0.5)
                except TimeoutError:
                    continue
                if message["type"] != "next" or message["payload"].get("errors"):
                    return  # an error or the end of the subscription: resume from the cursor
                event = message["payload"]["data"]["ledgerEvents"]
                self.positions.append(int(event["position"]))
                self.cursor = event["cursor"]

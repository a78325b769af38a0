"""Fixtures for tests in a real browser: one headless Chromium per session, a fresh context per test.

- `browser`: one Debian Chromium (`/usr/bin/chromium`, or ML_CHROMIUM) under Playwright, headless and offline.
  Missing, every browser test FAILS with one line saying how to install it; none is skipped.
- `page`: a new page in a context of its own (no cookies or storage shared between tests), 1280×900.
  Requests to anywhere but this machine are refused; a test whose page made any fails, naming them.
- `axe`: axe-core (`Axe.violations(page)`), fetched from the npm registry once into a cache folder
  (ML_AXE_CACHE, else ~/.cache/measure-ledger), then offline.
- `screenshots`: the folder screenshots go to (ML_SCREENSHOTS, else a temporary folder of the run).

Every test under tests/browser/ is marked `browser`: `pytest -m browser` runs only these,
`pytest -m "not browser"` leaves them out.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.harness import FLAGS, Axe, Missing, Offline, axe_script, chromium_path

HERE = Path(__file__).resolve().parent
T = TypeVar("T")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


def needed(find: Callable[[], T]) -> T:
    """What `find` finds; if it is missing, the test fails with the one line saying how to install it."""
    try:
        return find()
    except Missing as e:
        message = str(e)
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One headless Chromium for all the browser tests of a run.

    Package-scoped, and so closed before the rest of the suite runs: between its calls, Playwright's
    synchronous API leaves its own event loop marked as running, which pytest-asyncio's loop would refuse.
    Browser tests are therefore plain (synchronous) functions.
    """
    executable = needed(chromium_path)
    with sync_playwright() as playwright:
        # Playwright gives each launch a fresh, empty --user-data-dir of its own.
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=list(FLAGS))
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page of its own, offline: anything it asks of another machine is refused and fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(15_000)
    offline = Offline()
    context.route("**/*", offline.route)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()
    assert not offline.refused, f"the page asked for resources off this machine: {offline.refused[:5]}"


@pytest.fixture(scope="session")
def axe() -> Axe:
    return Axe(needed(axe_script))


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("ML_SCREENSHOTS")
    if configured:
        Path(configured).mkdir(parents=True, exist_ok=True)
        return Path(configured)
    return tmp_path_factory.mktemp("screenshots")

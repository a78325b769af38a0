"""Headless Debian Chromium for the browser tests, driven by Playwright, with axe-core for accessibility.

Chromium is the machine's own (`apt-get install -y chromium`): Playwright's
download of its own browsers is never used. The browser runs offline: the flags
below keep it from calling home, and every page's requests to anywhere but this
machine are refused and reported (`Offline`). axe-core comes from the npm
registry once, into a cache folder, and is injected into pages from there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page, Route

CHROMIUM = "/usr/bin/chromium"
INSTALL_CHROMIUM = "apt-get install -y chromium"
# Without the networking flags, Chromium tries Google's hosts at every start and waits on the closed network.
FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
AXE_VERSION = "4.14.1"
AXE_PACKAGE = f"axe-core@{AXE_VERSION}"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


class Missing(Exception):
    """Something the browser tests need is not on this machine; the message says how to get it."""


def chromium_path() -> str:
    """The Chromium binary: ML_CHROMIUM, else Debian's; Missing (with the install command) if neither is there."""
    chosen = os.environ.get("ML_CHROMIUM") or CHROMIUM
    found = shutil.which(chosen)
    if found is None:
        raise Missing(
            f"Chromium is not installed ({chosen} not found): run `{INSTALL_CHROMIUM}` (Debian/Ubuntu, as root), "
            "or set ML_CHROMIUM to a Chromium or Chrome binary"
        )
    return found


def axe_cache() -> Path:
    """Where axe-core is kept between runs: ML_AXE_CACHE, else the user's cache folder."""
    configured = os.environ.get("ML_AXE_CACHE")
    base = Path(configured) if configured else Path.home() / ".cache" / "measure-ledger"
    return base / f"axe-core-{AXE_VERSION}"


def axe_script() -> Path:
    """axe.min.js of the pinned axe-core, installed from the npm registry on first use; offline afterwards."""
    cache = axe_cache()
    script = cache / "node_modules" / "axe-core" / "axe.min.js"
    if script.exists():
        return script
    npm = shutil.which("npm")
    if npm is None:
        raise Missing(f"npm is needed once to fetch axe-core {AXE_VERSION} into {cache}: install Node.js and npm")
    cache.parent.mkdir(parents=True, exist_ok=True)
    # Installed beside, then renamed into place: a run interrupted half-way leaves no half-made cache.
    staging = Path(tempfile.mkdtemp(prefix="axe-core-", dir=cache.parent))
    try:
        done = subprocess.run(
            [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(staging), AXE_PACKAGE],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise Missing(f"npm could not install {AXE_PACKAGE}: {done.stderr.strip()[-300:]}")
        try:
            staging.rename(cache)
        except OSError:  # another run put it there first
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not script.exists():
        raise Missing(f"axe-core {AXE_VERSION} was installed but {script} is missing")
    return script


@dataclass
class Offline:
    """Refuses every request a page makes to anywhere but this machine, and remembers them."""

    refused: list[str] = field(default_factory=list)

    def route(self, route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about") or (parts.hostname or "") in LOOPBACK:
            route.continue_()
            return
        self.refused.append(url)
        route.abort("blockedbyclient")


@dataclass(frozen=True)
class Axe:
    """axe-core, run in a page."""

    script: Path

    def violations(self, page: Page, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """What axe-core finds wrong with the page as it is now: each rule broken, with its nodes."""
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            # Evaluated rather than added as a <script>: a page's Content-Security-Policy may refuse inline
            # scripts (the report's does), and the test should see the page under its own policy.
            page.evaluate(self.script.read_text(encoding="utf-8") + "\n;undefined")
        result: dict[str, Any] = page.evaluate(
            "async (options) => await axe.run(document, options)", options or {"resultTypes": ["violations"]}
        )
        violations: list[dict[str, Any]] = result["violations"]
        return violations


def assert_accessible_on_a_desktop_and_a_phone(page: Page, axe: Axe) -> None:
    """No axe-core violations at the page's size nor on a 390×844 phone, and no sideways scrolling on the phone."""
    desktop = axe.violations(page)
    page.set_viewport_size({"width": 390, "height": 844})
    phone = axe.violations(page)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")

    assert desktop == [], describe(desktop)
    assert phone == [], describe(phone)
    assert overflow <= 0, "the page scrolls sideways on a phone"


def describe(violations: list[dict[str, Any]]) -> str:
    """axe-core's violations, one line per element, for an assertion message."""
    lines = []
    for v in violations:
        for node in v["nodes"]:
            lines.append(f"{v['id']} ({v['impact']}): {v['help']} at {' '.join(node['target'])}")
    return "\n".join(lines)

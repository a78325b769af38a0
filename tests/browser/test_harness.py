"""The browser harness itself: Chromium renders offline, axe-core finds what it should, screenshots are taken."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser.harness import INSTALL_CHROMIUM, Axe, Offline, describe

ROOT = Path(__file__).resolve().parents[2]

CLEAN = """<!doctype html><html lang="en"><head><title>A page</title></head>
<body><main><h1>Statuses</h1><p>5.1 is <strong>on track</strong>.</p>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="a dot"></main></body></html>"""
# An image with no text, pale text on white, and no title or language: three rules axe-core knows.
FLAWED = """<!doctype html><html><head></head>
<body><main><h1>Statuses</h1><p style="color:#ccc;background:#fff">5.1 is on track.</p>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main></body></html>"""


def test_axe_core_passes_a_clean_page_and_names_each_rule_a_flawed_one_breaks(page: Page, axe: Axe) -> None:
    page.set_content(CLEAN)
    clean = axe.violations(page)
    page.set_content(FLAWED)
    flawed = axe.violations(page)

    assert clean == [], describe(clean)
    assert {v["id"] for v in flawed} >= {"image-alt", "color-contrast", "html-has-lang", "document-title"}


def test_a_page_asking_for_another_machine_is_refused_and_remembered(page: Page) -> None:
    offline = Offline()
    page.route("https://cdn.example.org/**", offline.route)
    page.set_content('<html lang="en"><title>t</title><script src="https://cdn.example.org/lib.js"></script></html>')

    assert offline.refused == ["https://cdn.example.org/lib.js"]
    assert page.evaluate("typeof window.lib") == "undefined"


def test_a_screenshot_is_a_png_of_the_rendered_page(page: Page, screenshots: Path) -> None:
    page.set_content(CLEAN)
    path = screenshots / "harness.png"

    page.screenshot(path=str(path), full_page=True)

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_without_chromium_the_browser_tests_fail_saying_how_to_install_it(tmp_path: Path) -> None:
    env = {**os.environ, "ML_CHROMIUM": str(tmp_path / "no-chromium")}
    test = f"{Path(__file__).relative_to(ROOT)}::test_a_screenshot_is_a_png_of_the_rendered_page"

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 1, run.stdout
    assert "1 error" in run.stdout and "skipped" not in run.stdout
    assert "Chromium is not installed" in run.stdout and INSTALL_CHROMIUM in run.stdout

"""Fixtures for the browser tests (``pytest -m browser``, see ``make browser``): a headless Chromium.

The tests drive Debian's ``/usr/bin/chromium`` (or ``$CHROMIUM``) through Playwright, so no browser is
downloaded. They are deselected by default (``addopts = "-m 'not browser'"`` in pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from browser_util import CHROMIUM, LAUNCH_ARGS


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()

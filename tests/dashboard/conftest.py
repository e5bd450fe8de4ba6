"""Fixtures of the dashboard tests: a server of their own, and Debian's Chromium driven by
Playwright (the ``playwright`` package of the test extras; its own browser downloads are never
used: ``executable_path`` is the system's ``chromium``, installed by scripts/bootstrap.sh).

Screenshots go to ``$LOCALLAMBDA_ARTIFACTS`` when it is set, otherwise to the session's
temporary directory (pytest keeps the last few runs), one PNG per page.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import Server
from tests.invoke.conftest import CLI_ENV, EXECUTOR, stop_checked

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# How long the page may take to show what a test waits for (a function start included).
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def srv() -> Iterator[Server]:
    """A server of this module, creating functions asynchronously (Pending, then Active) as the
    default settings do, so that the page follows the state."""
    server = Server(env={"LAMBDA_EXECUTOR": EXECUTOR, **CLI_ENV}).start()
    try:
        yield server
    finally:
        stop_checked(server)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    expect.set_options(timeout=WAIT_MS)
    try:
        yield page
    finally:
        raised = list(errors)  # what closing the page aborts (module fetches under way) is not its fault
        context.close()
    assert not raised, f"the page raised: {raised}"


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("LOCALLAMBDA_ARTIFACTS")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("dashboard-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture()
def shot(page: Page, artifacts: Path) -> Any:
    """``shot(name)``: a full-page screenshot of the page as it is, kept as an artefact."""

    def take(name: str) -> Path:
        path = artifacts / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take

"""The sandbox page in a real browser: Debian's Chromium driven by Playwright for Python.

Skipped, with the reason, where either is missing (``make test`` passes without them); CI
installs both (``.ci/run``: ``apt-get install chromium``; ``playwright`` is a dev extra).
Playwright's own browser download is never used: it launches the system Chromium.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.tryout.launch import HOST, open_world
from bot.tryout.web import make_app
from bot.tryout.world import World

CHROMIUM_NAMES = ("chromium", "chromium-browser")


def chromium_path() -> str | None:
    """The system Chromium ($MOODCHECK_CHROMIUM, else on PATH), or None."""
    configured = os.environ.get("MOODCHECK_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


@pytest.fixture(name="world")
async def fx_world(tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(tmp_path / "sandbox.db") as world:
        yield world


@pytest.fixture(name="page_url")
async def fx_page_url(world: World) -> AsyncIterator[str]:
    runner = web.AppRunner(
        make_app(world), handle_signals=False, access_log=None, shutdown_timeout=1.0
    )
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://{HOST}:{port}/"
    await runner.cleanup()


@pytest.fixture(name="browser")
async def fx_browser() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install -e '.[dev]')")
    executable = chromium_path()
    if executable is None:
        pytest.skip("no system Chromium (apt-get install -y chromium, or set MOODCHECK_CHROMIUM)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable)
        yield browser
        await browser.close()

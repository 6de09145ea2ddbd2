"""The end-to-end tier: real meetkit servers with their own Janus, driven by Debian's Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, kept on this machine (tests/browser.py)."""
    from playwright.async_api import async_playwright

    from ..browser import launch

    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            yield browser
        finally:
            await browser.close()

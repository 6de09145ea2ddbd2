"""The end-to-end tier: real meetkit servers with their own Janus, driven by Debian's Chromium (one
browser per module here, tests/browser.py's flags; each test makes its own contexts) and firefox-esr."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

from meetkit.client import MeetingsClient

from .. import browser as b
from ..support import Server, create_application, media_env, media_net, start_server, stop_server

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright

    from ..firefox import Firefox


@pytest.fixture(scope="module")
async def pw() -> AsyncIterator[Playwright]:
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
async def chromium(pw: Playwright) -> AsyncIterator[Browser]:
    """One Chromium for the module (it overrides tests/conftest.py's, a browser per test)."""
    browser = await b.launch(pw)
    yield browser
    await browser.close()


@pytest.fixture(scope="module")
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with its own Janus, one per test module (a module may define its own, with settings)."""
    media_net()
    srv = start_server("sqlite", tmp_path_factory.mktemp("e2e"), media_env(), tls=False)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def api(media_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeetingsClient]:
    """An application on the module's server, and a REST client of it."""
    app_id, key = create_application(media_server, tmp_path_factory.mktemp("keys"))
    with MeetingsClient(media_server.base_url, app_id, key) as c:
        yield c


@pytest.fixture
async def firefox() -> AsyncIterator[Firefox]:
    """Debian's firefox-esr, headless, one page, kept on this machine (tests/firefox.py)."""
    from ..firefox import Firefox

    browser = await Firefox().start()
    try:
        yield browser
    finally:
        await browser.close()

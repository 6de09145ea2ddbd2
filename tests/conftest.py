"""Fixtures every tier shares: one real meetkit server per database backend (SQLite and PostgreSQL).

The tiers, each a folder with its own conftest: unit (pure, in-process), storage, api, signalling,
media (real Janus), e2e (real Chromium). `make test` runs them all; `make test-unit` the fast tier."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from meetkit.client import MeetingsClient

from .support import Server, create_application, start_server, stop_server

if TYPE_CHECKING:
    from playwright.async_api import Browser

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp(f"server-{request.param}")
    srv = start_server(request.param, folder)
    yield srv
    stop_server(srv)


@pytest.fixture
def application(server: Server, tmp_path: Path) -> tuple[str, str]:
    """A fresh application on the server: (application_id, private key PEM)."""
    return create_application(server, tmp_path)


@pytest.fixture
def client(server: Server, application: tuple[str, str]) -> Iterator[MeetingsClient]:
    app_id, key = application
    with MeetingsClient(server.base_url, app_id, key, verify=str(server.cert_path)) as c:
        yield c


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, kept on this machine (tests/browser.py)."""
    from playwright.async_api import async_playwright

    from .browser import launch

    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            yield browser
        finally:
            await browser.close()

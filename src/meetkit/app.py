"""Composition root: the one place where adapters are chosen and wired together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from . import __version__
from .api import errors as api_errors
from .api import openapi as api_openapi
from .api import recordings, rooms, themes, uploads
from .api.guard import API_PREFIX, TargetGuard
from .clock import Clock, SystemClock
from .config import Settings
from .container import Container
from .storage import migrate
from .storage.db import make_engine, make_sessionmaker
from .storage.objects import LocalObjectStore
from .storage.tokens import TokenLedger
from .web import pages
from .worker.lifecycle import LifecycleWorker
from .worker.webhooks import WebhookWorker

log = logging.getLogger("meetkit")


def build_container(settings: Settings, clock: Clock | None = None) -> Container:
    settings.ensure_dirs()
    engine = make_engine(settings.resolved_database_url)
    clock = clock or SystemClock()
    return Container(
        settings=settings,
        clock=clock,
        engine=engine,
        sessions=make_sessionmaker(engine),
        objects=LocalObjectStore(settings.objects_dir),
        secret=settings.resolved_secret_key(),
        tokens=TokenLedger(engine, clock),
    )


# Order matters: /themes/logos-upload-urls before /themes/{theme_id}.
API_ROUTERS = (rooms.router, themes.router, recordings.router, uploads.router)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None,
               run_migrations: bool = True, run_workers: bool = True) -> FastAPI:
    settings = settings or Settings()
    c = build_container(settings, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if run_migrations:
            await migrate.upgrade(c.engine)
        workers: list[asyncio.Task[None]] = []
        if run_workers:
            workers.append(asyncio.create_task(WebhookWorker(c).run(), name="webhooks"))
            workers.append(asyncio.create_task(LifecycleWorker(c).run(), name="lifecycle"))
        try:
            yield
        finally:
            for task in workers:
                task.cancel()
            for task in workers:
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                except Exception:
                    log.exception("worker %s failed", task.get_name())
            await c.engine.dispose()

    app = FastAPI(
        title="meetkit Meetings API",
        version=__version__,
        description="Self-hosted Meetings API, compatible with the Vonage Meetings API v1.",
        openapi_url="/v1/meetings/openapi.json",
        docs_url="/v1/meetings/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.container = c
    api_errors.install(app)
    api_openapi.install(app)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(pages.router)
    app.add_middleware(TargetGuard)
    return app

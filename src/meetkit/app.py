"""Composition root: the one place where adapters are chosen and wired together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis

from . import __version__
from .actions.applications import count_without_embed_origins
from .actions.meetings import do_close_orphaned_sessions
from .actions.recordings import do_stop_orphaned_recordings
from .api import applications, board, health, recordings, rooms, themes, transcripts, uploads, usage
from .api import errors as api_errors
from .api import openapi as api_openapi
from .api.bodylimit import BodyLimit, upload_route_limits
from .api.fairness import TenantGate
from .api.guard import TargetGuard
from .api.probes import ProbeThrottle
from .bus import InProcessBus
from .captions.engines import make_engine as make_speech_engine
from .clock import Clock, SystemClock
from .cluster.bus import RedisBus
from .cluster.channels import Channels
from .cluster.leases import RoomLeases
from .cluster.ownership import LeasedOwnership, Ownership, SoleOwnership
from .config import Settings
from .container import Container
from .domain.links import API_PREFIX
from .media.pool import MediaPool
from .media.supervisor import JanusSupervisor
from .media.turn import TurnSupervisor, turn_credentials
from .media.videoroom import MediaServer
from .signalling import session
from .signalling.links import Links
from .signalling.rooms import Rooms
from .storage import migrate
from .storage.db import make_engine, make_reader_engine, make_sessionmaker
from .storage.objects import LocalObjectStore, ObjectStore
from .storage.s3 import S3ObjectStore
from .storage.tokens import TokenLedger
from .web import board as board_web
from .web import pages
from .web import watch as watch_web
from .web.headers import SecurityHeaders
from .worker.lifecycle import LifecycleWorker
from .worker.recordings import RecordingWorker
from .worker.usage import UsageWorker
from .worker.webhooks import WebhookWorker

log = logging.getLogger("meetkit")


def _object_store(s: Settings) -> ObjectStore:
    if s.storage_backend == "s3":
        assert s.s3_bucket and s.s3_access_key_id and s.s3_secret_access_key  # checked by Settings
        return S3ObjectStore(s.resolved_s3_endpoint_url, s.s3_bucket, s.s3_access_key_id,
                             s.s3_secret_access_key.get_secret_value(), region=s.s3_region, prefix=s.s3_prefix)
    return LocalObjectStore(s.objects_dir)


def build_container(settings: Settings, clock: Clock | None = None) -> Container:
    settings.ensure_dirs()
    engine = make_engine(settings.resolved_database_url)
    reader_engine = make_reader_engine(settings.resolved_database_url, settings.sqlite_readers)
    clock = clock or SystemClock()
    # A member of a deployment talks to the other nodes through Redis; room events go that way too.
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    channels = Channels(redis) if redis is not None else None
    return Container(
        settings=settings,
        clock=clock,
        engine=engine,
        sessions=make_sessionmaker(engine),
        readers=make_sessionmaker(reader_engine) if reader_engine is not None else None,
        reader_engine=reader_engine,
        objects=_object_store(settings),
        secret=settings.resolved_secret_key(),
        tokens=TokenLedger(engine, clock),
        bus=RedisBus(channels) if channels is not None else InProcessBus(),
        turn=turn_credentials(settings),
        redis=redis,
        channels=channels,
    )


def _ownership(c: Container) -> Ownership:
    """Single-process mode owns every meeting; a member of a deployment leases them (cluster/)."""
    if c.redis is None:
        return SoleOwnership()
    return LeasedOwnership(RoomLeases(c.redis, c.settings.room_lease_seconds), c.sessions, c.clock,
                           c.settings.node_id)


async def _start_media(settings: Settings, live_rooms: Rooms,
                       clock: Clock) -> tuple[JanusSupervisor | None, MediaServer | MediaPool | None]:
    """The media server as configured: meetkit's own Janus, an external one, a pool of external ones,
    or none. A Janus that cannot be reached is logged and the meeting runs without media (chat, lobby
    and the API work). Restart and reconnect backoff wait on ``clock``."""
    if settings.media_mode == "off":
        return None, None
    if settings.janus_pool:
        pool = MediaPool(settings.janus_pool, admin_key=settings.janus_admin_key,
                         api_secret=settings.janus_api_secret, clock=clock)
        await pool.start()
        pool.on_lost(live_rooms.media_lost)
        pool.on_restart(live_rooms.media_restarted)
        live_rooms.node.pool = pool
        log.info("media: a pool of %d Janus servers", len(pool.servers))
        return None, pool
    supervisor: JanusSupervisor | None = None
    admin_key: str | None
    api_secret: str | None
    try:
        if settings.media_mode == "managed":
            supervisor = JanusSupervisor(settings, clock=clock)
            await supervisor.start()
            url, admin_key, api_secret = supervisor.url, supervisor.admin_key, None
        elif not settings.janus_url:
            raise ValueError("MEETKIT_MEDIA_MODE=external needs MEETKIT_JANUS_URL")
        else:
            url, admin_key, api_secret = settings.janus_url, settings.janus_admin_key, settings.janus_api_secret
        media = MediaServer(url, admin_key=admin_key, api_secret=api_secret, clock=clock)
        await media.start()
    except Exception as exc:
        log.error("media server unavailable, meetings run without audio and video: %s", exc)
        if supervisor is not None:
            await supervisor.stop()
        return None, None
    media.on_restart(lambda: live_rooms.media_restarted(media))
    live_rooms.media = media
    log.info("media server: %s", "meetkit's own Janus" if supervisor else "external Janus")
    return supervisor, media


async def _start_turn(settings: Settings, clock: Clock) -> TurnSupervisor | None:
    """meetkit's own coturn in managed TURN mode. One that does not start is logged: meetings still
    run, without a relay for browsers that need one."""
    if settings.resolved_turn_mode != "managed":
        if settings.resolved_turn_mode == "external":
            log.info("TURN: external (%s)", settings.turn_urls)
        return None
    supervisor = TurnSupervisor(settings, clock=clock)
    try:
        await supervisor.start()
    except Exception as exc:
        log.error("TURN server unavailable, browsers that need a relay get no media: %s", exc)
        await supervisor.stop()
        return None
    return supervisor


async def _stop_media(supervisor: JanusSupervisor | None, media: MediaServer | MediaPool | None) -> None:
    if media is not None:
        await media.stop()
    if supervisor is not None:
        await supervisor.stop()


# Order matters: /themes/logos-upload-urls before /themes/{theme_id}.
API_ROUTERS = (rooms.router, themes.router, applications.router, recordings.router, uploads.router, usage.router,
               board.router, transcripts.router)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None,
               run_migrations: bool = True, run_workers: bool = True) -> FastAPI:
    settings = settings or Settings()
    c = build_container(settings, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if run_migrations:
            await migrate.upgrade(c.engine)
        if unlisted := await count_without_embed_origins(c):
            log.warning("%d application(s) have no allowed embedding origins: any site may frame their meetings "
                        "(meetkit app set-embed-origins, docs/embed.md)", unlisted)
        ownership = live_rooms.node.ownership
        if c.channels is not None and live_rooms.links is not None:
            await c.channels.start()
            await live_rooms.links.start()
        await ownership.start()
        # Of a deployment, only what no live node owns: each is claimed (fenced) before it is closed.
        claim = ownership.claim if c.redis is not None else None
        closed = await do_close_orphaned_sessions(c, claim=claim, release=ownership.release_soon)
        if closed:
            log.info("closed %d session(s) left running by the previous process", closed)
        stopped = await do_stop_orphaned_recordings(c, claim=claim, release=ownership.release_soon)
        if stopped:
            log.info("stopped %d recording(s) cut short by the previous process; composing what was captured",
                     stopped)
        supervisor, media = await _start_media(c.settings, live_rooms, c.clock)
        turn = await _start_turn(c.settings, c.clock)
        workers: list[asyncio.Task[None]] = []
        if c.redis is not None:  # meetings whose node died and nobody came back to (signalling/rooms.py)
            workers.append(asyncio.create_task(live_rooms.watch_orphans(c.settings.room_lease_seconds * 2),
                                               name="orphans"))
        if live_rooms.node.cards is not None:  # media carried through a failover (signalling/carry.py)
            workers.append(asyncio.create_task(live_rooms.keep_media_cards(), name="media-cards"))
        if run_workers:
            workers.append(asyncio.create_task(WebhookWorker(c).run(), name="webhooks"))
            workers.append(asyncio.create_task(LifecycleWorker(c).run(), name="lifecycle"))
            workers.append(asyncio.create_task(RecordingWorker(c).run(), name="recordings"))
            workers.append(asyncio.create_task(UsageWorker(c).run(), name="usage"))
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
            await live_rooms.close()
            if live_rooms.node.speech is not None:
                await live_rooms.node.speech.close()
            await ownership.stop()
            if live_rooms.links is not None and c.channels is not None:
                await live_rooms.links.stop()
                await c.channels.stop()
            await _stop_media(supervisor, media)
            if turn is not None:
                await turn.stop()
            await c.dispose()

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
    app.state.metrics = c.metrics
    live_rooms = Rooms(c, ownership=_ownership(c))  # this node's meetings; hears RoomEnded / RoomUpdated on c.bus
    if c.channels is not None and c.redis is not None:
        links = live_rooms.links = Links(c.channels, c.redis, live_rooms.node.ownership.node_id, settings)
        links.serve_with(lambda ws, code: session.serve_relayed(live_rooms, ws, code))
        if isinstance(live_rooms.node.ownership, LeasedOwnership):
            c.channels.on_reconnect(live_rooms.node.ownership.redis_came_back)
    live_rooms.node.speech = make_speech_engine(settings)
    app.state.rooms = live_rooms
    app.state.tenant_gate = TenantGate(settings.api_requests_per_application, settings.api_queue_per_application)
    app.state.probes = ProbeThrottle.of(settings)  # lookups of unknown meetings, per client address
    api_errors.install(app)
    api_openapi.install(app)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(health.router)  # before the pages: /healthz is no company's short URL
    app.include_router(board_web.router)
    app.include_router(watch_web.router)
    app.include_router(pages.router)
    app.mount(pages.STATIC_PREFIX.rstrip("/"), pages.StaticAssets(pages.static_dir()), name="static")
    # The whiteboard's build (scripts/build-ui.sh), 22 MB with its fonts: read from disk when a board opens.
    app.mount(board_web.ASSETS, StaticFiles(directory=board_web.assets_dir(), check_dir=False), name="excalidraw")
    app.add_middleware(health.RequestTimer, metrics=c.metrics)  # innermost: it sees the matched route
    app.add_middleware(BodyLimit, limit=c.settings.max_request_body_bytes, route_limits=upload_route_limits(c.settings))
    app.add_middleware(TargetGuard)
    app.add_middleware(SecurityHeaders)  # outermost: every answer, the guard's 400 included
    return app

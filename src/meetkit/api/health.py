"""Probes for the front and the operator: ``/healthz`` (the process answers), ``/readyz`` (it can serve:
database, Redis in a deployment, and the media server when media is on) and ``/metrics`` (Prometheus text, metrics.py).

haproxy's health checks (deploy/haproxy.cfg) ask ``/readyz``: a node whose database is gone stops
getting new meetings. ``/metrics`` tells queue depths and counts, not secrets, but they are still the
operator's business: without ``MEETKIT_METRICS_TOKEN`` only loopback clients may read it, with it a
scraper sends ``Authorization: Bearer <token>``."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import time
from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..container import Container
from ..domain.links import API_PREFIX
from ..domain.recordings import RecordingStatus
from ..metrics import CONTENT_TYPE, Metrics
from ..signalling.rooms import Rooms
from ..storage import tables as t
from .errors import error_response

log = logging.getLogger("meetkit.api")
router = APIRouter(include_in_schema=False)

CHECK_SECONDS = 2.0  # a dependency that does not answer within this is not ready


def _container(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def _database(c: Container) -> str:
    try:
        async with asyncio.timeout(CHECK_SECONDS), c.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"
    return "ok"


def _media(request: Request) -> str:
    c = _container(request)
    if c.settings.media_mode == "off":
        return "off"
    rooms: Rooms = request.app.state.rooms
    port = rooms.node.pool or rooms.media  # a pool: ok while one of its Janus servers is reachable
    connected = getattr(port, "connected", False)
    return "ok" if connected else "unavailable"


async def _redis(c: Container) -> str:
    if c.redis is None:
        return "off"
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            await c.redis.ping()
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"
    return "ok"


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    c = _container(request)
    checks = {"database": await _database(c), "redis": await _redis(c), "media": _media(request)}
    ready = all(v in ("ok", "off") for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "unready", "checks": checks},
                        status_code=200 if ready else 503)


def _may_read_metrics(request: Request) -> bool:
    c = _container(request)
    token = c.settings.metrics_token
    if token is not None:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token.get_secret_value()}".encode())
    host = request.client.host if request.client is not None else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _queues(c: Container, m: Metrics) -> None:
    now = c.clock.now()
    async with asyncio.timeout(CHECK_SECONDS), c.read_sessions() as db:
        pending = t.WebhookDelivery.status == "pending"
        depth, oldest = (await db.execute(
            select(func.count(), func.min(t.WebhookDelivery.queued_at)).where(pending))).one()
        waiting = await db.scalar(select(func.count()).select_from(t.Recording)
                                  .where(t.Recording.status == RecordingStatus.STOPPED,
                                         t.Recording.next_attempt_at.is_not(None)))
    m.webhook_queue.set(depth or 0)
    m.webhook_age.set(_age(now, oldest))
    m.recording_queue.set(waiting or 0)


def _age(now: datetime, oldest: datetime | None) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite hands back naive UTC
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - oldest).total_seconds())


def _live(rooms: Rooms, m: Metrics) -> None:
    people = [p for room in rooms.rooms.values() for p in room.participants.values()]
    m.live_meetings.set(sum(1 for room in rooms.rooms.values() if room.participants))
    m.participants.labels("joined").set(sum(1 for p in people if p.state == "joined"))
    m.participants.labels("waiting").set(sum(1 for p in people if p.state == "lobby"))
    m.sockets.set(rooms.addresses.total())
    servers: dict[str, object] = dict(rooms.node.pool.servers) if rooms.node.pool is not None else {}
    if rooms.media is not None:
        servers[str(getattr(rooms.media, "url", "janus"))] = rooms.media
    for janus, port in servers.items():  # a pool's by name, the one by its URL
        on_it = [p for room in rooms.rooms.values() if room.media is port for p in room.participants.values()]
        m.janus_up.labels(janus).set(1 if getattr(port, "connected", False) else 0)
        m.janus_streams.labels(janus, "published").set(sum(len(p.feeds) for p in on_it))
        m.janus_streams.labels(janus, "forwarded").set(
            sum(len(p.media.subscriber.streams) for p in on_it if p.media is not None))


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    if not _may_read_metrics(request):
        return error_response(403, "ForbiddenError", "metrics are served to loopback clients or with the metrics token")
    c = _container(request)
    m: Metrics = request.app.state.metrics
    _live(request.app.state.rooms, m)
    try:
        await _queues(c, m)
    except Exception as exc:  # the database is down: the live figures still go out (readyz says why)
        log.warning("metrics: the queues could not be read: %s", type(exc).__name__)
    return Response(m.render(), media_type=CONTENT_TYPE)


class RequestTimer:
    """Times every HTTP request by its route template (``/v1/meetings/rooms/{room_id}``, never the id
    itself, so the series stay few); a path no route matched counts as ``unmatched``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            template = getattr(scope.get("route"), "path", None) or "unmatched"
            # FastAPI names an included route by its path inside its router, without the prefix.
            if scope["path"].startswith(API_PREFIX + "/") and template.startswith("/"):
                template = API_PREFIX + template
            self.metrics.rest_seconds.labels(scope["method"], template, f"{status // 100}xx").observe(
                time.perf_counter() - started)

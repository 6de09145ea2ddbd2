"""The guest and host URLs: the meeting page (static UI + its configuration), the embed helper, the meeting socket.

Lookups of meetings that are not live spend the client address's budget (api/probes.py); the page
carries its CSP (web/csp.py) and the socket checks its Origin (docs/embed.md)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import mimetypes
import re
from html import escape
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import select
from starlette.convertors import Convertor, register_url_convertor
from starlette.types import Receive, Scope, Send

from ..api import probes
from ..api.auth import container
from ..api.render import asset_url
from ..container import Container
from ..domain.embedding import OriginError, normalize_origin, origin_allowed
from ..signalling import protocol, session
from ..signalling.rooms import Rooms
from ..storage import repositories
from ..storage import tables as t
from . import bundle, csp


class MeetingCodeConvertor(Convertor[str]):
    regex = r"[0-9]{9}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class ShortUrlConvertor(Convertor[str]):
    regex = r"[A-Za-z0-9_~-]{1,128}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("meetingcode", MeetingCodeConvertor())
register_url_convertor("shorturl", ShortUrlConvertor())

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;
background:#f5f5f7;color:#222}}main{{text-align:center;padding:2rem}}h1{{color:{color}}}</style></head>
<body><main data-role="{role}"><h1>{heading}</h1><p>{text}</p></main></body></html>"""


def _page(status: int, title: str, heading: str, text: str, role: str = "none", color: str = "#222") -> HTMLResponse:
    html = _PAGE.format(title=escape(title), heading=escape(heading), text=escape(text), role=role,
                        color=escape(color))
    return HTMLResponse(html, status_code=status, headers={"Referrer-Policy": "no-referrer",
                                                           "Content-Security-Policy": csp.ERROR_PAGE_POLICY})


_STATIC = Path(__file__).parent / "static"
STATIC_PREFIX = "/_meetkit/static/"
_PLACEHOLDER = re.compile(r"\{\{(lang|title|favicon|static|config_json)\}\}")


def static_dir() -> Path:
    return _STATIC


class StaticAssets:
    """The UI's files (web/static/) from memory, each with an ETag. A join loads ~40 small ES modules
    (docs/ui.md); StaticFiles pays a stat and a file read in the thread pool for each, which is join
    time. Read once when the app is built, like the page shell; a new release restarts the server."""

    def __init__(self, directory: Path) -> None:
        self._files: dict[str, tuple[bytes, bytes, list[tuple[bytes, bytes]]]] = {}
        for path in sorted(directory.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            body = path.read_bytes()
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind in ("application/javascript", "image/svg+xml"):
                kind += "; charset=utf-8"
            etag = ('"' + hashlib.sha256(body).hexdigest()[:32] + '"').encode()
            # no-cache: revalidated (a 304) on every load, so a release shows at once
            headers = [(b"content-type", kind.encode()), (b"etag", etag), (b"cache-control", b"no-cache")]
            self._files[path.relative_to(directory).as_posix()] = (body, etag, headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        name = (path[len(root):] if root and path.startswith(root) else path).lstrip("/")
        found = self._files.get(name)
        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            status, headers, body = 405, [(b"allow", b"GET, HEAD")], b""
        elif found is None:
            status, headers, body = 404, [(b"content-type", b"text/plain; charset=utf-8")], b"Not Found"
        else:
            body, etag, headers = found
            status = 200
            if any(k == b"if-none-match" and v == etag for k, v in scope.get("headers", [])):
                status, body = 304, b""
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body if method == "GET" else b""})


def _script_json(value: Any) -> str:
    """JSON that is safe inside <script type="application/json">: no way to close the element."""
    text = json.dumps(value, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def page_config(request: Request, room: t.Room, theme: t.Theme | None, role: str,
                host_token: str | None, embed_origins: list[str] | None = None) -> dict[str, Any]:
    return {
        "v": 1,
        "ws_url": f"/_meetkit/ws/{room.meeting_code}",
        "static_url": STATIC_PREFIX,
        "room": {"id": room.id, "display_name": room.display_name, "meeting_code": room.meeting_code,
                 "join_approval_level": room.join_approval_level, "type": room.type},
        "role": role,
        "host_token": host_token if role == "host" else None,
        "available_features": room.available_features,
        "ui_settings": room.ui_settings,
        "initial_join_options": room.initial_join_options,
        "recording_options": room.recording_options,
        "theme": {
            "main_color": theme.main_color if theme else None,
            "brand_text": theme.brand_text if theme else None,
            "brand_image_colored": asset_url(request, theme.brand_image_colored) if theme else None,
            "brand_image_white": asset_url(request, theme.brand_image_white) if theme else None,
            "branded_favicon": asset_url(request, theme.branded_favicon) if theme else None,
        },
        # Never TURN credentials: a GET of a meeting page must not mint relays. The participant's own come
        # once admitted (signalling/ice.py); peer connections are only made after that.
        "ice_servers": [],
        # Where the UI may post its events (features/embed/embed.js); null: no list, the framing page's origin.
        "embed_origins": embed_origins,
    }


def _language(room: t.Room) -> str:
    lang = str((room.ui_settings or {}).get("language") or "default")
    return "en" if lang == "default" else lang.split("-")[0].lower()


@functools.lru_cache(maxsize=1)
def _shell() -> str:
    return bundle.shell((_STATIC / "meeting.html").read_text(encoding="utf-8"), _STATIC)


async def _meeting(request: Request, code: str, short: str | None, token: str | None) -> Response:
    wait = probes.retry_after(request)
    if wait > 0:
        return probes.too_many(wait)
    c = container(request)
    async with c.sessions() as db:
        room = await repositories.live_room_by_code(db, code)
        theme = await db.get(t.Theme, room.theme_id) if room and room.theme_id else None
        app = await db.get(t.Application, room.application_id) if room else None
    if room is None:
        probes.missed(request)
        async with c.sessions() as db:
            ended = await db.scalar(select(t.Room.id).where(t.Room.meeting_code == code, t.Room.is_available.is_(False))
                                    .limit(1))
        if ended is not None:
            return _page(410, "Meeting ended", "This meeting has ended",
                         "The room has expired. Ask the organiser for a new link.")
    # Short URLs are unique without regard to case (migration 0010), so a link typed in another case is the same.
    wrong_short = short is not None and (theme is None or (theme.short_company_url or "").lower() != short.lower())
    if room is None or wrong_short:
        if room is not None:
            probes.missed(request)
        return _page(404, "Meeting not found", "This meeting is not available",
                     "The link is wrong, or the meeting has expired.")
    is_host = token is not None and hmac.compare_digest(token.encode(), room.host_token.encode())
    role = "host" if is_host else "guest"
    embed_origins = app.embed_origins if app is not None else None
    config = page_config(request, room, theme, role, token, embed_origins)
    favicon = (asset_url(request, theme.branded_favicon) if theme else None) or f"{STATIC_PREFIX}favicon.svg"
    values = {"lang": escape(_language(room)), "title": escape(room.display_name), "favicon": escape(favicon),
              "static": STATIC_PREFIX, "config_json": _script_json(config)}
    # One pass: a value (a room's name, say) that looks like a placeholder is never filled in.
    html = _PLACEHOLDER.sub(lambda m: values[m.group(1)], _shell())
    images = [config["theme"][k] for k in ("brand_image_colored", "brand_image_white", "branded_favicon")]
    # Where logo URLs and uploaded videos redirect to.
    store = c.settings.resolved_s3_endpoint_url if c.settings.storage_backend == "s3" else None
    policy = csp.meeting_policy(request.url.scheme, request.headers.get("host", ""), embed_origins, images, store)
    # The page must not leak the host token onward (Referer); who may frame it is the application's choice.
    return HTMLResponse(html, headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
                                       "Content-Security-Policy": policy})


@router.get("/embed.js", include_in_schema=False)
async def embed_js() -> FileResponse:
    return FileResponse(_STATIC / "embed.js", media_type="text/javascript",
                        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"})


@router.get("/embed.d.ts", include_in_schema=False)
async def embed_types() -> FileResponse:
    """embed.js's TypeScript declarations (docs/embed.md)."""
    return FileResponse(_STATIC / "embed.d.ts", media_type="application/typescript",
                        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"})


@functools.lru_cache(maxsize=4)
def _public_origin(public_url: str) -> str:
    origin = csp.origin_of(public_url) or public_url
    try:
        return normalize_origin(origin, wildcard_allowed=False)
    except OriginError:  # a host name browsers would not send as an Origin (say, with "_"): compared as given
        return origin


async def _origin_allowed(websocket: WebSocket, code: str) -> bool:
    """A browser's socket comes from meetkit's own pages (the public URL's origin) or from a site the
    room's application allows to embed it. No Origin header: not a browser (SDKs, bots, the tests'
    clients), which could send any Origin anyway; the check stops other sites' pages, not programs."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    c: Container = websocket.app.state.container
    if origin_allowed(origin, [_public_origin(c.settings.public_url)]):
        return True
    async with c.sessions() as db:
        found = (await db.execute(
            select(t.Application.embed_origins).join(t.Room, t.Room.application_id == t.Application.id)
            .where(t.Room.meeting_code == code, t.Room.is_available.is_(True)))).first()
    if found is None:
        return True  # no such meeting: the session answers 4404 (and counts the miss)
    allowed: list[str] | None = found[0]
    return allowed is not None and origin_allowed(origin, allowed)


@router.websocket("/_meetkit/ws/{code:meetingcode}")
async def meeting_socket(websocket: WebSocket, code: str) -> None:
    rooms: Rooms = websocket.app.state.rooms
    refusal = protocol.CLOSE_PROBES if probes.retry_after(websocket) > 0 else None
    if refusal is None and not await _origin_allowed(websocket, code):
        refusal = protocol.CLOSE_ORIGIN
    if refusal is not None:
        await websocket.accept()
        await websocket.close(refusal)
        return

    def not_found() -> int:
        probes.missed(websocket)
        return protocol.CLOSE_NOT_FOUND

    await session.serve(rooms, websocket, code, not_found)


Token = Annotated[str | None, Query(max_length=128)]


@router.get("/{code:meetingcode}", response_class=HTMLResponse)
async def meeting(request: Request, code: str, participant_token: Token = None) -> Response:
    return await _meeting(request, code, None, participant_token)


@router.get("/{short:shorturl}/{code:meetingcode}", response_class=HTMLResponse)
async def branded_meeting(request: Request, short: str, code: str, participant_token: Token = None) -> Response:
    return await _meeting(request, code, short, participant_token)

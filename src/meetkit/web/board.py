"""The whiteboard's images, for the meeting page: placed (PUT) and fetched (GET) by participants.

The page proves who it is with its participant id and resume token (``X-Meetkit-Participant``,
``Authorization: Bearer``): only someone in the running meeting reads or adds its board's images.
Images are data, never documents: served with ``nosniff``, a sandboxing CSP and their stored type."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from ..actions import board as actions
from ..actions import meetings
from ..api.auth import container
from ..api.errors import error_response
from ..domain.board import FILE_ID, FILE_TYPES

router = APIRouter(include_in_schema=False)
ASSETS = "/_meetkit/excalidraw"  # the board's code, styles and fonts (scripts/build-ui.sh)
MEETING_CODE = re.compile(r"^[0-9]{9}$")
_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=86400, immutable"}


def assets_dir() -> Path:
    return Path(__file__).parent / "excalidraw"


async def page_caller(request: Request, code: str, participant: str | None,
                      authorization: str | None) -> meetings.PageCaller | None:
    """Who the page's request comes from (web/watch.py too), or None."""
    token = authorization.removeprefix("Bearer ").strip() if authorization else ""
    if not participant or not token or not MEETING_CODE.match(code):
        return None
    return await meetings.page_caller(container(request), code, participant, token)


async def _session(request: Request, code: str, participant: str | None, authorization: str | None) -> str | None:
    caller = await page_caller(request, code, participant, authorization)
    return caller.session_id if caller is not None else None


def _refused() -> Response:
    return error_response(403, "ForbiddenError", "only a participant in this meeting may use its whiteboard")


@router.put("/_meetkit/board/{code}/files/{file_id}")
async def put_file(request: Request, code: str, file_id: str,
                   x_meetkit_participant: Annotated[str | None, Header()] = None,
                   authorization: Annotated[str | None, Header()] = None,
                   content_type: Annotated[str | None, Header()] = None) -> Response:
    c = container(request)
    if not FILE_ID.match(file_id):
        return error_response(400, "BadRequestError", "a file id is 1 to 64 letters, digits, _ or -")
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime not in FILE_TYPES:
        return error_response(415, "UnsupportedMediaTypeError", "a whiteboard image is PNG, JPEG, GIF or WebP")
    caller = await page_caller(request, code, x_meetkit_participant, authorization)
    if caller is None:
        return _refused()
    if not await actions.may_add_image(c, caller.session_id, is_host=caller.is_host):
        return error_response(403, "ForbiddenError", "the whiteboard is read-only, or this room has none")
    session_id = caller.session_id
    cap = c.settings.max_board_file_bytes
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > cap:
            return error_response(413, "PayloadTooLargeError", f"a whiteboard image is at most {cap} bytes")
    if not data:
        return error_response(400, "BadRequestError", "the image is empty")
    added = await actions.do_add_file(c, session_id, caller.participant_id, file_id, mime, bytes(data))
    return Response(status_code=201 if added else 200)


@router.get("/_meetkit/board/{code}/files/{file_id}")
async def get_file(request: Request, code: str, file_id: str,
                   x_meetkit_participant: Annotated[str | None, Header()] = None,
                   authorization: Annotated[str | None, Header()] = None) -> Response:
    if not FILE_ID.match(file_id):
        return error_response(404, "NotFoundError", "no such image on this whiteboard")
    session_id = await _session(request, code, x_meetkit_participant, authorization)
    if session_id is None:
        return _refused()
    found = await actions.file_of(container(request), session_id, file_id)
    if found is None:
        return error_response(404, "NotFoundError", "no such image on this whiteboard")
    mime, data = found
    return Response(content=data, media_type=mime, headers=_HEADERS)

"""Watch together's videos, for the meeting page: a host uploads one (POST), every page's ``<video>``
plays it (GET) through the signed link in ``watch.state``, seeking with Range requests.

The upload proves who sends it like the whiteboard's images do (participant id and resume token) and
must come from a host; it is spooled to disk as it arrives, never held in memory. The GET needs no
credentials a media element can't send: the link's signature and expiry are the permission."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from ..actions import watch as actions
from ..api.auth import container
from ..api.errors import error_response
from ..domain.watch import FILE_TYPES
from .board import page_caller

router = APIRouter(include_in_schema=False)
_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=3600"}


@router.post("/_meetkit/watch/{code}/files")
async def upload(request: Request, code: str,
                 x_meetkit_participant: Annotated[str | None, Header()] = None,
                 authorization: Annotated[str | None, Header()] = None,
                 content_type: Annotated[str | None, Header()] = None) -> Response:
    c = container(request)
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime not in FILE_TYPES:
        return error_response(415, "UnsupportedMediaTypeError", "a video to watch together is MP4, WebM or Ogg")
    caller = await page_caller(request, code, x_meetkit_participant, authorization)
    if caller is None or not caller.is_host:
        return error_response(403, "ForbiddenError", "only a host in this meeting may share a video")
    cap = c.settings.max_watch_file_bytes
    spool = c.settings.data_dir / "spool"
    await asyncio.to_thread(spool.mkdir, parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=spool, prefix="watch-")
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > cap:
                    return error_response(413, "PayloadTooLargeError", f"a video is at most {cap} bytes")
                await asyncio.to_thread(out.write, chunk)
        if size == 0:
            return error_response(400, "BadRequestError", "the video is empty")
        file_id = await actions.do_add_file(c, caller.session_id, mime, Path(name), size)
    finally:
        await asyncio.to_thread(_remove, name)
    return JSONResponse({"file_id": file_id}, status_code=201)


def _remove(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass


@router.get("/_meetkit/watch/{code}/files/{file_id}")
async def play(request: Request, code: str, file_id: str, expires: Annotated[int, Query()] = 0,
               sig: Annotated[str, Query(max_length=128)] = "") -> Response:
    c = container(request)
    if not actions.link_valid(c, code, file_id, expires, sig):
        return error_response(403, "ForbiddenError", "this video link is not valid (or has expired)")
    row = await actions.running_file(c, code, file_id)
    if row is None:
        return error_response(404, "NotFoundError", "no such video in the running meeting")
    local = c.objects.path(row.storage_key)
    if local is not None:
        return FileResponse(local, media_type=row.mime, headers=_HEADERS)  # Range requests included
    url = await asyncio.to_thread(c.objects.url_for_download, row.storage_key, 3600, content_type=row.mime)
    if url is None:
        return error_response(404, "NotFoundError", "no such video in the running meeting")
    return RedirectResponse(url, status_code=302)

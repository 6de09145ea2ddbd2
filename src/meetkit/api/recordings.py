"""/recordings, /sessions, /dial-in-numbers, signed downloads and public logo assets."""

from __future__ import annotations

import asyncio
import hmac
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from ..actions import recordings as actions
from ..domain.links import download_signature
from ..errors import Forbidden, NotFound
from ..storage import tables as t
from ..storage.objects import BadKey, ObjectStore
from . import render
from . import schemas as s
from .auth import Caller, authenticate, container
from .responses import json

router = APIRouter(tags=["recordings"])
_PRIVATE = "private, no-store"
_NOSNIFF = {"X-Content-Type-Options": "nosniff"}
Auth = Annotated[Caller, Depends(authenticate)]


@router.get("/recordings/{recording_id}", response_model=s.RecordingOut, summary="Get a recording",
            responses={404: {"model": s.ErrorOut}})
async def get_recording(request: Request, caller: Auth, recording_id: str) -> JSONResponse:
    c = container(request)
    rec = await actions.get_recording(c, caller.application_id, recording_id)
    return json(render.recording_out(c, request, rec))


@router.delete("/recordings/{recording_id}", status_code=204, summary="Delete an uploaded recording",
               responses={403: {"model": s.ErrorOut}, 404: {"model": s.ErrorOut}})
async def delete_recording(request: Request, caller: Auth, recording_id: str) -> Response:
    await actions.do_delete_recording(container(request), caller.application_id, recording_id)
    return Response(status_code=204)


async def _session_recordings(request: Request, caller: Caller, session_id: str) -> JSONResponse:
    c = container(request)
    recs = await actions.session_recordings(c, caller.application_id, session_id)
    listed = [render.recording_out(c, request, r) for r in recs]
    out = s.SessionRecordingsOut(embedded=s.RecordingList(recordings=listed))
    return json(out)


@router.get("/sessions/{session_id}/recordings", response_model=s.SessionRecordingsOut,
            summary="Get a session's recordings", responses={404: {"model": s.ErrorOut}})
async def session_recordings(request: Request, caller: Auth, session_id: str) -> JSONResponse:
    return await _session_recordings(request, caller, session_id)


@router.get("/sessions/{session_id}", response_model=s.SessionRecordingsOut,
            summary="Get a session's recordings (the path the Node SDK calls)", responses={404: {"model": s.ErrorOut}})
async def session(request: Request, caller: Auth, session_id: str) -> JSONResponse:
    return await _session_recordings(request, caller, session_id)


@router.get("/dial-in-numbers", response_model=list[s.DialInNumberOut], summary="Numbers to dial into a meeting")
async def dial_in_numbers(request: Request, caller: Auth) -> JSONResponse:
    c = container(request)
    return json([s.DialInNumberOut(**n.model_dump()) for n in c.settings.dial_in_numbers])


@router.get("/recordings/{recording_id}/download", summary="Download a recording's MP4 (signed link)",
            responses={403: {"model": s.ErrorOut}, 404: {"model": s.ErrorOut}})
async def download_recording(request: Request, recording_id: str,
                             expires: Annotated[int, Query(ge=0, le=2**40)],
                             signature: Annotated[str, Query(max_length=128)]) -> Response:
    c = container(request)
    expected = download_signature(c.secret, recording_id, expires)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise Forbidden("invalid download signature")
    if expires < c.clock.now().timestamp():
        raise Forbidden("download link expired")
    async with c.sessions() as db:
        rec = await db.get(t.Recording, recording_id)
    if rec is None or not rec.storage_key:
        raise NotFound("Could not find recording")
    # A store with its own URLs (S3) serves the bytes; the redirect lives no longer than this link.
    ttl = min(c.settings.s3_presign_ttl, max(1, int(expires - c.clock.now().timestamp())))
    served = await asyncio.to_thread(_locate, c.objects, rec.storage_key, ttl, f"{recording_id}.mp4", "video/mp4")
    if served is None:
        raise NotFound("Could not find recording")
    # A recording is the application's own: no shared cache (a proxy, a CDN) may keep it or its link.
    if isinstance(served, str):
        return RedirectResponse(served, status_code=307, headers={"Cache-Control": _PRIVATE})
    return FileResponse(served, media_type="video/mp4", filename=f"{recording_id}.mp4",
                        headers={"Cache-Control": _PRIVATE})


def _locate(objects: ObjectStore, key: str, ttl: int, filename: str | None, content_type: str) -> str | Path | None:
    """Where the object is served from: a URL of the store's (when it has one and the object exists), a
    local file, or None when it is missing."""
    url = objects.url_for_download(key, ttl, filename=filename, content_type=content_type)
    if url is not None:
        return url if objects.exists(key) else None
    return objects.path(key)


@router.get("/assets/{key:path}", summary="A finalized theme logo (public)", responses={404: {"model": s.ErrorOut}})
async def asset(request: Request, key: str) -> Response:
    c = container(request)
    if not key.startswith("logos/"):
        raise NotFound("no such asset")
    try:
        served = await asyncio.to_thread(_locate, c.objects, key, c.settings.s3_presign_ttl, None, "image/png")
    except BadKey as exc:
        raise NotFound("no such asset") from exc
    if served is None:
        raise NotFound("no such asset")
    # nosniff: a browser takes the logo for the PNG it says it is, never for HTML (finalize re-encodes
    # logos too; this also covers any stored before it did).
    if isinstance(served, str):
        # Each presigned URL is new and short-lived, so the redirect itself must not be cached.
        return RedirectResponse(served, status_code=307, headers={"Cache-Control": "no-store", **_NOSNIFF})
    return FileResponse(served, media_type="image/png",
                        headers={"Cache-Control": "public, max-age=86400", **_NOSNIFF})

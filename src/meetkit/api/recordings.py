"""/recordings, /sessions, /dial-in-numbers, signed downloads and public logo assets."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from ..actions import recordings as actions
from ..errors import Forbidden, NotFound
from ..storage import tables as t
from ..storage.objects import BadKey
from . import render
from . import schemas as s
from .auth import Caller, authenticate, container
from .responses import json

router = APIRouter(tags=["recordings"])
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
                             signature: Annotated[str, Query(max_length=128)]) -> FileResponse:
    c = container(request)
    expected = render.download_signature(c.secret, recording_id, expires)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise Forbidden("invalid download signature")
    if expires < c.clock.now().timestamp():
        raise Forbidden("download link expired")
    async with c.sessions() as db:
        rec = await db.get(t.Recording, recording_id)
    path = c.objects.path(rec.storage_key) if rec and rec.storage_key else None
    if rec is None or path is None:
        raise NotFound("Could not find recording")
    return FileResponse(path, media_type="video/mp4", filename=f"{recording_id}.mp4")


@router.get("/assets/{key:path}", summary="A finalized theme logo (public)", responses={404: {"model": s.ErrorOut}})
async def asset(request: Request, key: str) -> FileResponse:
    c = container(request)
    if not key.startswith("logos/"):
        raise NotFound("no such asset")
    try:
        path = c.objects.path(key)
    except BadKey as exc:
        raise NotFound("no such asset") from exc
    if path is None:
        raise NotFound("no such asset")
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "public, max-age=86400"})

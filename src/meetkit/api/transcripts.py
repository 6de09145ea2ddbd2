"""A session's transcript (live captions' final lines), and a recording's: meetkit extensions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from ..actions import captions as actions
from ..actions import recordings
from ..domain.transcript import Cue, to_json, to_webvtt
from . import schemas as s
from .auth import Caller, authenticate, container

router = APIRouter(tags=["captions"])
Auth = Annotated[Caller, Depends(authenticate)]
Format = Annotated[Literal["vtt", "json"], Query()]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/vtt": {}, "application/json": {}}}, 404: {"model": s.ErrorOut}}


def _body(cues: list[Cue], fmt: str) -> Response:
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
    if fmt == "json":
        return JSONResponse({"cues": to_json(cues)}, headers=headers)
    return Response(to_webvtt(cues), media_type="text/vtt; charset=utf-8",
                    headers={**headers, "Content-Disposition": 'attachment; filename="transcript.vtt"'})


@router.get(
    "/sessions/{session_id}/transcript", summary="A session's transcript (meetkit extension)",
    description="What live captions heard in the session, one cue per final caption with its speaker: "
    "`vtt` is WebVTT (`<v Speaker>` voice spans), `json` is `{cues: [{speaker, participant_id, start, end, "
    "text}]}` with times in seconds since the session started. Empty when captions were never on.",
    responses=_RESPONSES,
)
async def session_transcript(request: Request, caller: Auth, session_id: str, format: Format = "vtt") -> Response:
    return _body(await actions.transcript_for(container(request), caller.application_id, session_id), format)


@router.get(
    "/recordings/{recording_id}/transcript", summary="A recording's transcript (meetkit extension)",
    description="The session's transcript timed from the recording's start, for a player to show beside "
    "the MP4 (which stays as it is: no captions are burned in).",
    responses=_RESPONSES,
)
async def recording_transcript(request: Request, caller: Auth, recording_id: str, format: Format = "vtt") -> Response:
    c = container(request)
    recording = await recordings.get_recording(c, caller.application_id, recording_id)
    return _body(await actions.recording_cues(c, recording), format)

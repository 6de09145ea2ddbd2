"""/sessions/{session_id}/whiteboard: a session's whiteboard, exported (a meetkit extension)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from ..actions import board as actions
from . import schemas as s
from .auth import Caller, authenticate, container

router = APIRouter(tags=["whiteboard"])
Auth = Annotated[Caller, Depends(authenticate)]
_TYPES = {"json": "application/json", "svg": "image/svg+xml", "png": "image/png"}
_SUFFIX = {"json": "excalidraw", "svg": "svg", "png": "png"}


@router.get(
    "/sessions/{session_id}/whiteboard", summary="Export a session's whiteboard (meetkit extension)",
    description="The board as it stands (during the meeting) or as it was left (after it). `json` is "
    "Excalidraw's own file format (`.excalidraw`, images inlined), which excalidraw.com and the Excalidraw "
    "component open; `svg` and `png` are pictures of it, drawn by meetkit.",
    responses={200: {"content": {t: {} for t in _TYPES.values()}}, 404: {"model": s.ErrorOut}},
)
async def export_whiteboard(request: Request, caller: Auth, session_id: str,
                            format: Annotated[Literal["json", "svg", "png"], Query()] = "json") -> Response:
    content_type, body = await actions.export(container(request), caller.application_id, session_id, format)
    name = f"whiteboard.{_SUFFIX[format]}"
    return Response(content=body, media_type=content_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox",
        "Cache-Control": "private, no-store"})

"""/rooms routes."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from ..actions import rooms as actions
from ..storage import repositories as repo
from ..storage import tables as t
from . import probes, render
from . import schemas as s
from .auth import Caller, authenticate, authenticate_listing, container
from .responses import json

router = APIRouter(tags=["rooms"])
Auth = Annotated[Caller, Depends(authenticate)]
ListingAuth = Annotated[Caller, Depends(authenticate_listing)]
PageSize = Annotated[int, Query(ge=1, le=1000, description="Items per page (1..1000)")]
Serial = Annotated[int | None, Query(ge=0, le=2**62, description="A room's serial number (not its id)")]


async def list_page(request: Request, caller: Caller, theme_id: str | None, path: str,
                    page_size: int, start_id: int | None, end_id: int | None) -> JSONResponse:
    c = container(request)
    size = min(page_size, c.settings.max_page_size)
    async with c.read_sessions() as db:
        rows, total, more, earlier = await repo.page_rooms(
            db, caller.application_id, theme_id=theme_id, start_serial=start_id, end_serial=end_id, page_size=size
        )
        themes = await repo.themes_by_id(db, {r.theme_id for r in rows if r.theme_id})
    # Rendering a page of up to 1,000 rooms takes tens of milliseconds of CPU: in a thread, the GIL is
    # handed back every few milliseconds, so other requests keep moving meanwhile (api/fairness.py).
    return await asyncio.to_thread(
        lambda: json(render.room_page_out(c, request, path, rows, themes, total, more, earlier, size)))


@router.get("/rooms", response_model=s.RoomPageOut, summary="List rooms, paged by serial number")
async def list_rooms(request: Request, caller: ListingAuth, page_size: PageSize = 20,
                     start_id: Serial = None, end_id: Serial = None) -> JSONResponse:
    return await list_page(request, caller, None, "/rooms", page_size, start_id, end_id)


@router.post("/rooms", status_code=201, response_model=s.RoomOut, summary="Create a room",
             responses={400: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 404: {"model": s.ErrorOut}})
async def create_room(request: Request, caller: Auth, body: s.CreateRoomIn) -> JSONResponse:
    c = container(request)
    room = await actions.do_create_room(c, caller.application_id, body)
    return json(await _room_out(request, room), 201)


_TOO_MANY: dict[int | str, dict[str, Any]] = {
    429: {"model": s.ErrorOut,
          "description": "Too many lookups of unknown rooms from this address (Retry-After says when to try again)"}}


@router.get("/rooms/{room_id}", response_model=s.RoomOut, summary="Get a room",
            responses={404: {"model": s.ErrorOut}, **_TOO_MANY})
async def get_room(request: Request, caller: Auth, room_id: str) -> JSONResponse:
    with probes.lookup(request):
        room = await actions.get_room(container(request), caller.application_id, room_id)
    return json(await _room_out(request, room))


@router.post("/rooms/{room_id}/host-token:rotate", response_model=s.RoomOut,
             summary="Issue a new host token, revoking the old host link (meetkit extension)",
             responses={404: {"model": s.ErrorOut}, **_TOO_MANY})
async def rotate_host_token(request: Request, caller: Auth, room_id: str) -> JSONResponse:
    with probes.lookup(request):
        room = await actions.do_rotate_host_token(container(request), caller.application_id, room_id)
    return json(await _room_out(request, room))


@router.patch("/rooms/{room_id}", response_model=s.RoomOut, summary="Update a long-term room",
              responses={400: {"model": s.ErrorOut}, 404: {"model": s.ErrorOut}})
async def update_room(request: Request, caller: Auth, room_id: str, body: s.UpdateRoomIn) -> JSONResponse:
    room = await actions.do_update_room(container(request), caller.application_id, room_id, body)
    return json(await _room_out(request, room))


@router.delete("/rooms/{room_id}", status_code=204, summary="Delete a room (meetkit extension)",
               responses={404: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
async def delete_room(request: Request, caller: Auth, room_id: str) -> Response:
    await actions.do_delete_room(container(request), caller.application_id, room_id)
    return Response(status_code=204)


async def _room_out(request: Request, room: t.Room) -> s.RoomOut:
    c = container(request)
    theme = None
    if room.theme_id:
        async with c.read_sessions() as db:
            theme = await db.get(t.Theme, room.theme_id)
    return render.room_out(c, room, theme)

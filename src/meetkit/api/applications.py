"""/applications/embed-origins (a meetkit extension): which sites may frame the caller's meetings.
The application is the one the JWT names (api/auth.py); there is no path parameter to guess."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ..actions import applications as actions
from . import schemas as s
from .auth import Caller, authenticate, container
from .responses import json

router = APIRouter(tags=["applications"])
Auth = Annotated[Caller, Depends(authenticate)]


def _out(app_id: str, origins: list[str] | None) -> s.EmbedOriginsOut:
    return s.EmbedOriginsOut(application_id=app_id, embed_origins=origins)


@router.get("/applications/embed-origins", response_model=s.EmbedOriginsOut,
            summary="The origins allowed to embed the meetings (meetkit extension)")
async def get_embed_origins(request: Request, caller: Auth) -> JSONResponse:
    app = await actions.get_application(container(request), caller.application_id)
    return json(_out(app.id, app.embed_origins))


@router.put("/applications/embed-origins", response_model=s.EmbedOriginsOut,
            summary="Set the origins allowed to embed the meetings (meetkit extension)",
            responses={400: {"model": s.ErrorOut}})
async def set_embed_origins(request: Request, caller: Auth, body: s.EmbedOriginsIn) -> JSONResponse:
    app = await actions.do_set_embed_origins(container(request), caller.application_id, body.embed_origins)
    return json(_out(app.id, app.embed_origins))

"""/usage: an application's metered minutes and their cost in one month. A meetkit extension of the
contract; the rules are in docs/pricing.md."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from ..actions import usage as actions
from . import render
from . import schemas as s
from .auth import Caller, authenticate, container
from .responses import json

router = APIRouter(tags=["usage"])
Auth = Annotated[Caller, Depends(authenticate)]
Month = Annotated[str | None, Query(pattern=r"^[0-9]{4}-[0-9]{2}$",
                                    description="YYYY-MM, a UTC calendar month; default: the current one.")]


@router.get("/usage", response_model=s.UsageOut, summary="Usage and its cost in one month (meetkit extension)",
            description="Participant minutes and recording minutes of the calling application that ended in "
            "the month, priced per tier with the server's configured tiers.",
            responses={400: {"model": s.ErrorOut}})
async def usage(request: Request, caller: Auth, month: Month = None) -> JSONResponse:
    report = await actions.usage_for_month(container(request), caller.application_id, month)
    return json(render.usage_out(report))

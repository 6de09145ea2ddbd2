"""/themes and /applications routes, and the logo upload URLs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json as jsonlib
import secrets
import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from ..actions import themes as actions
from ..actions.logos import do_finalize_logos
from ..container import Container
from ..domain.dates import format_date
from ..domain.themes import TEMP_LOGO_PREFIX, LogoType
from ..errors import BadRequest, InputValidationError, NotFound
from ..storage import repositories as repo
from . import render
from . import schemas as s
from .auth import Caller, authenticate, container
from .responses import json
from .rooms import ListingAuth, PageSize, Serial, list_page

router = APIRouter(tags=["themes"])
Auth = Annotated[Caller, Depends(authenticate)]
UPLOAD_BUCKET = "meetkit"


async def _account_id(c: Container, application_id: str) -> str:
    async with c.sessions() as db:
        app = await repo.get_application(db, application_id)
    return app.account_id if app else application_id


@router.get("/themes", response_model=list[s.ThemeOut], summary="List the application's themes")
async def list_themes(request: Request, caller: Auth) -> JSONResponse:
    c = container(request)
    themes = await actions.list_themes(c, caller.application_id)
    account = await _account_id(c, caller.application_id)
    return json([render.theme_out(request, th, account) for th in themes])


@router.post("/themes", status_code=201, response_model=s.ThemeOut, summary="Create a theme",
             responses={400: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
async def create_theme(request: Request, caller: Auth, body: s.CreateThemeIn) -> JSONResponse:
    c = container(request)
    theme = await actions.do_create_theme(c, caller.application_id, body)
    return json(render.theme_out(request, theme, await _account_id(c, caller.application_id)), 201)


def sign_policy(secret: bytes, policy_b64: str) -> str:
    return hmac.new(secret, policy_b64.encode(), hashlib.sha256).hexdigest()


@router.get("/themes/logos-upload-urls", response_model=list[s.UploadUrlOut],
            summary="Get signed URLs to upload the three logo types")
async def logo_upload_urls(request: Request, caller: Auth) -> JSONResponse:
    c = container(request)
    now = c.clock.now()
    expires = now + timedelta(seconds=c.settings.upload_policy_ttl)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    credential = f"{caller.application_id}/{now.strftime('%Y%m%d')}/meetkit/s3/aws4_request"
    out = []
    for logo_type in (LogoType.WHITE, LogoType.COLORED, LogoType.FAVICON):
        key = f"{TEMP_LOGO_PREFIX}{logo_type.value}/{uuid.uuid4()}"
        policy = {
            "expiration": format_date(expires),
            "conditions": [
                {"bucket": UPLOAD_BUCKET},
                {"key": key},
                {"Content-Type": "image/png"},
                {"x-amz-credential": credential},
                {"x-meetkit-application": caller.application_id},
                ["content-length-range", 0, c.settings.max_upload_bytes],
            ],
        }
        policy_b64 = base64.b64encode(jsonlib.dumps(policy, separators=(",", ":")).encode()).decode()
        fields = s.UploadFields.model_validate({
            "Content-Type": "image/png",
            "key": key,
            "logoType": logo_type.value,
            "bucket": UPLOAD_BUCKET,
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": credential,
            "X-Amz-Date": amz_date,
            "X-Amz-Security-Token": secrets.token_urlsafe(16),
            "Policy": policy_b64,
            "X-Amz-Signature": sign_policy(c.secret, policy_b64),
        })
        out.append(s.UploadUrlOut(url=f"{render.api_base(request)}/uploads", fields=fields))
    return json(out)


@router.get("/themes/{theme_id}", response_model=s.ThemeOut, summary="Get a theme",
            responses={404: {"model": s.ErrorOut}})
async def get_theme(request: Request, caller: Auth, theme_id: str) -> JSONResponse:
    c = container(request)
    theme = await actions.get_theme(c, caller.application_id, theme_id)
    return json(render.theme_out(request, theme, await _account_id(c, caller.application_id)))


@router.patch("/themes/{theme_id}", response_model=s.ThemeOut, summary="Update a theme",
              responses={400: {"model": s.ErrorOut}, 404: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
async def update_theme(request: Request, caller: Auth, theme_id: str, body: s.UpdateThemeIn) -> JSONResponse:
    c = container(request)
    theme = await actions.do_update_theme(c, caller.application_id, theme_id, body)
    return json(render.theme_out(request, theme, await _account_id(c, caller.application_id)))


def parse_force(value: str | None) -> bool:
    if value is None or value == "":
        return False
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise BadRequest('"force" must be true or false')


@router.delete("/themes/{theme_id}", status_code=204, summary="Delete a theme",
               responses={400: {"model": s.ErrorOut}, 404: {"model": s.ErrorOut}})
async def delete_theme(request: Request, caller: Auth, theme_id: str,
                       force: Annotated[str | None, Query(max_length=8)] = None) -> Response:
    await actions.do_delete_theme(container(request), caller.application_id, theme_id, parse_force(force))
    return Response(status_code=204)


@router.get("/themes/{theme_id}/rooms", response_model=s.RoomPageOut, summary="List the rooms using a theme",
            responses={404: {"model": s.ErrorOut}})
async def theme_rooms(request: Request, caller: ListingAuth, theme_id: str, page_size: PageSize = 20,
                      start_id: Serial = None, end_id: Serial = None) -> JSONResponse:
    c = container(request)
    async with c.sessions() as db:
        if await repo.get_theme(db, caller.application_id, theme_id) is None:
            raise NotFound(f"Failed to get rooms because theme id {theme_id} not found")
    return await list_page(request, caller, theme_id, f"/themes/{theme_id}/rooms", page_size, start_id, end_id)


@router.put("/themes/{theme_id}/finalizeLogos", response_class=PlainTextResponse,
            summary="Attach uploaded logos to a theme", responses={400: {"model": s.ErrorOut}})
async def finalize_logos(request: Request, caller: Auth, theme_id: str, body: s.FinalizeLogosIn) -> PlainTextResponse:
    await do_finalize_logos(container(request), caller.application_id, theme_id, body.key_strings())
    return PlainTextResponse("OK")


@router.patch("/applications", response_model=s.ApplicationOut, summary="Set the application's default theme",
              responses={400: {"model": s.ErrorOut}})
async def update_application(request: Request, caller: Auth, body: s.UpdateApplicationIn) -> JSONResponse:
    details = body.update_details
    if not details.model_fields_set:
        raise InputValidationError('"update_details" must have at least 1 key')
    app = await actions.do_set_default_theme(container(request), caller.application_id, details.default_theme_id)
    return json(s.ApplicationOut(application_id=app.id, account_id=app.account_id,
                                 default_theme_id=app.default_theme_id))

"""The guest and host URLs resolve here. Until the meeting UI lands this is a small landing page."""

from __future__ import annotations

import hmac
from html import escape
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from starlette.convertors import Convertor, register_url_convertor

from ..api.auth import container
from ..storage import tables as t


class MeetingCodeConvertor(Convertor[str]):
    regex = r"[0-9]{9}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class ShortUrlConvertor(Convertor[str]):
    regex = r"[A-Za-z0-9_~-]{1,128}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("meetingcode", MeetingCodeConvertor())
register_url_convertor("shorturl", ShortUrlConvertor())

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;
background:#f5f5f7;color:#222}}main{{text-align:center;padding:2rem}}h1{{color:{color}}}</style></head>
<body><main data-role="{role}"><h1>{heading}</h1><p>{text}</p></main></body></html>"""


def _page(status: int, title: str, heading: str, text: str, role: str = "none", color: str = "#222") -> HTMLResponse:
    html = _PAGE.format(title=escape(title), heading=escape(heading), text=escape(text), role=role,
                        color=escape(color))
    return HTMLResponse(html, status_code=status, headers={"Referrer-Policy": "no-referrer"})


async def _meeting(request: Request, code: str, short: str | None, token: str | None) -> HTMLResponse:
    c = container(request)
    async with c.sessions() as db:
        room = await db.scalar(select(t.Room).where(t.Room.meeting_code == code, t.Room.is_available.is_(True)))
        theme = await db.get(t.Theme, room.theme_id) if room and room.theme_id else None
    if room is None:
        async with c.sessions() as db:
            ended = await db.scalar(select(t.Room.id).where(t.Room.meeting_code == code, t.Room.is_available.is_(False))
                                    .limit(1))
        if ended is not None:
            return _page(410, "Meeting ended", "This meeting has ended",
                         "The room has expired. Ask the organiser for a new link.")
    if room is None or (short is not None and (theme is None or theme.short_company_url != short)):
        return _page(404, "Meeting not found", "This meeting is not available",
                     "The link is wrong, or the meeting has expired.")
    is_host = token is not None and hmac.compare_digest(token.encode(), room.host_token.encode())
    role = "host" if is_host else "guest"
    color = theme.main_color if theme else "#222"
    return _page(200, room.display_name, room.display_name,
                 f"You are joining as {role}. Meeting code {room.meeting_code}.", role=role, color=color)


Token = Annotated[str | None, Query(max_length=128)]


@router.get("/{code:meetingcode}", response_class=HTMLResponse)
async def meeting(request: Request, code: str, participant_token: Token = None) -> HTMLResponse:
    return await _meeting(request, code, None, participant_token)


@router.get("/{short:shorturl}/{code:meetingcode}", response_class=HTMLResponse)
async def branded_meeting(request: Request, short: str, code: str, participant_token: Token = None) -> HTMLResponse:
    return await _meeting(request, code, short, participant_token)

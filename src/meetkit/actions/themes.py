"""Theme actions: create, update, delete (with the in-use rules), default theme. Logos: actions/logos.py."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..bus import RoomUpdated, publish_on_commit
from ..container import Container
from ..domain.themes import LOGO_COLUMN
from ..errors import BadRequest, Conflict, Forbidden, InputValidationError, NotFound
from ..storage import repositories as repo
from ..storage import tables as t
from .inputs import CreateThemeIn, UpdateThemeIn


async def _unique_conflict(db: AsyncSession, application_id: str, name: str | None, short: str | None,
                           exclude_id: str | None) -> None:
    if name is not None:
        q = select(t.Theme.id).where(t.Theme.application_id == application_id, t.Theme.theme_name == name)
        found = await db.scalar(q)
        if found is not None and found != exclude_id:
            raise Conflict("theme_name already exists in application")
    if short is not None:
        # Unique without regard to case (a unique index on lower(short_company_url) backs this up):
        # XSS-CO and xss-co would be two brands that read the same.
        q = select(t.Theme.id).where(func.lower(t.Theme.short_company_url) == short.lower())
        found = await db.scalar(q)
        if found is not None and found != exclude_id:
            raise Conflict("short_company_url already exists")


async def _conflict_after_race(c: Container, application_id: str, name: str | None, short: str | None,
                               exclude_id: str | None) -> Conflict:
    """The contract's precise 409 for a unique-constraint failure (a concurrent write won the race)."""
    async with c.sessions() as db:
        try:
            await _unique_conflict(db, application_id, name, short, exclude_id)
        except Conflict as precise:
            return precise
    return Conflict("theme_name or short_company_url already exists")


async def do_create_theme(c: Container, application_id: str, body: CreateThemeIn) -> t.Theme:
    theme_id = str(uuid.uuid4())
    name = body.theme_name if body.theme_name is not None else theme_id
    try:
        async with c.sessions.begin() as db:
            if await repo.count_themes(db, application_id) >= c.settings.max_themes_per_application:
                raise Forbidden(
                    f"Maximum number of themes ({c.settings.max_themes_per_application}) reached for this application"
                )
            await _unique_conflict(db, application_id, name, body.short_company_url, None)
            theme = t.Theme(
                id=theme_id,
                application_id=application_id,
                theme_name=name,
                main_color=body.main_color,
                brand_text=body.brand_text,
                short_company_url=body.short_company_url,
                created_at=c.clock.now(),
            )
            db.add(theme)
    except IntegrityError as exc:
        # Lost a race with a concurrent create of the same name or short URL.
        raise await _conflict_after_race(c, application_id, name, body.short_company_url, None) from exc
    return theme


async def list_themes(c: Container, application_id: str) -> Sequence[t.Theme]:
    async with c.sessions() as db:
        q = select(t.Theme).where(t.Theme.application_id == application_id).order_by(t.Theme.created_at, t.Theme.id)
        return (await db.scalars(q)).all()


async def get_theme(c: Container, application_id: str, theme_id: str) -> t.Theme:
    async with c.sessions() as db:
        theme = await repo.get_theme(db, application_id, theme_id)
    if theme is None:
        raise NotFound(f"could not find theme {theme_id}")
    return theme


async def do_update_theme(c: Container, application_id: str, theme_id: str, body: UpdateThemeIn) -> t.Theme:
    details = body.update_details
    given = details.model_fields_set
    if not given:
        raise InputValidationError('"update_details" must have at least 1 key')
    for required in ("main_color", "brand_text", "theme_name"):
        if required in given and getattr(details, required) is None:
            raise InputValidationError(f'"{required}" cannot be null')
    try:
        async with c.sessions.begin() as db:
            theme = await repo.get_theme(db, application_id, theme_id)
            if theme is None:
                raise NotFound(f"could not find theme {theme_id}")
            await _unique_conflict(
                db, application_id, details.theme_name if "theme_name" in given else None,
                details.short_company_url if "short_company_url" in given else None, theme_id,
            )
            for name in ("theme_name", "main_color", "brand_text", "short_company_url"):
                if name in given:
                    setattr(theme, name, getattr(details, name))
            await tell_live_rooms(db, c, theme_id)
    except IntegrityError as exc:
        raise await _conflict_after_race(
            c, application_id, details.theme_name if "theme_name" in given else None,
            details.short_company_url if "short_company_url" in given else None, theme_id,
        ) from exc
    return theme


async def tell_live_rooms(db: AsyncSession, c: Container, theme_id: str) -> None:
    """The meetings running in the theme's rooms draw it anew once this commits (``RoomUpdated``)."""
    running = select(t.Session.room_id).where(t.Session.ended_at.is_(None))
    rooms = await db.scalars(select(t.Room.id).where(t.Room.theme_id == theme_id, t.Room.id.in_(running)))
    for room_id in rooms:
        publish_on_commit(db, c.bus, RoomUpdated(room_id))


async def do_delete_theme(c: Container, application_id: str, theme_id: str, force: bool) -> None:
    async with c.sessions.begin() as db:
        theme = await repo.get_theme(db, application_id, theme_id)
        if theme is None:
            raise NotFound(f"could not find theme {theme_id}")
        app = await repo.get_application(db, application_id)
        assert app is not None
        in_use = await repo.rooms_using_theme(db, theme_id)
        is_default = app.default_theme_id == theme_id
        if (in_use or is_default) and not force:
            reasons = []
            if in_use:
                reasons.append(f"Theme {theme_id} is used by {in_use} room{'s' if in_use != 1 else ''}")
            if is_default:
                reasons.append(f"Theme {theme_id} is the default theme of the application")
            raise BadRequest("could not delete theme", errors=reasons)
        await db.execute(update(t.Room).where(t.Room.theme_id == theme_id).values(theme_id=None))
        if is_default:
            app.default_theme_id = None
        logo_keys = [getattr(theme, col) for col in LOGO_COLUMN.values() if getattr(theme, col)]
        await db.delete(theme)
    for key in logo_keys:
        await asyncio.to_thread(c.objects.delete, key)


async def do_set_default_theme(c: Container, application_id: str, theme_id: str | None) -> t.Application:
    async with c.sessions.begin() as db:
        app = await repo.get_application(db, application_id)
        assert app is not None
        if theme_id is not None and await repo.get_theme(db, application_id, theme_id) is None:
            raise BadRequest(f"Failed to update application because theme id {theme_id} not found")
        app.default_theme_id = theme_id
    return app

"""Theme actions: create, update, delete (with the in-use rules), default theme, logos."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Sequence

from PIL import Image, UnidentifiedImageError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..container import Container
from ..domain.themes import (
    LOGO_COLUMN,
    LogoLimits,
    LogoType,
    dimensions_ok,
    logo_type_of_temp_key,
)
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
    except IntegrityError as exc:
        raise await _conflict_after_race(
            c, application_id, details.theme_name if "theme_name" in given else None,
            details.short_company_url if "short_company_url" in given else None, theme_id,
        ) from exc
    return theme


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


def _logo_problem(data: bytes, logo_type: LogoType, limits: LogoLimits) -> str | None:
    """The contract's ``invalidProperty`` for a logo that breaks a rule, or None when it is fine."""
    if len(data) > limits.max_bytes:
        return "exceeds_size"
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "type"
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "PNG":
                return "type"
            width, height = img.size
            if not dimensions_ok(logo_type, width, height, limits):
                return "dimensions"
            img.load()
            if not _has_transparent_background(img):
                return "transparent_bg"
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return "type"
    return None


def _has_transparent_background(img: Image.Image) -> bool:
    """Transparent background: the image carries transparency and some border pixel is fully clear."""
    if img.mode not in ("RGBA", "LA", "PA") and "transparency" not in img.info:
        return False
    alpha = img.convert("RGBA").getchannel("A")
    w, h = alpha.size
    border = [(x, 0) for x in range(w)] + [(x, h - 1) for x in range(w)]
    border += [(0, y) for y in range(h)] + [(w - 1, y) for y in range(h)]
    return any(alpha.getpixel(p) == 0 for p in border)


async def do_finalize_logos(c: Container, application_id: str, theme_id: str, keys: list[str]) -> t.Theme:
    limits = LogoLimits(max_bytes=c.settings.max_logo_bytes)
    if not keys:
        raise BadRequest("could not finalize logos", errors=[{"code": "key_not_found", "logoKey": ""}])
    errors: list[dict[str, str]] = []
    accepted: list[tuple[str, LogoType, bytes]] = []
    async with c.sessions() as db:
        theme = await repo.get_theme(db, application_id, theme_id)
        if theme is None:
            raise NotFound(f"could not find theme {theme_id}")
        for key in keys:
            logo_type = logo_type_of_temp_key(key)
            upload = await db.get(t.LogoUpload, key) if logo_type else None
            data = await asyncio.to_thread(c.objects.get, key) if upload is not None else None
            if logo_type is None or upload is None or upload.application_id != application_id or data is None:
                errors.append({"logoKey": key, "code": "key_not_found"})
                continue
            problem = _logo_problem(data, logo_type, limits)
            if problem:
                errors.append({"logoKey": key, "code": "invalid_logo_properties", "invalidProperty": problem})
                continue
            accepted.append((key, logo_type, data))
    if errors:
        raise BadRequest("could not finalize logos", errors=errors)
    old_keys: list[str] = []
    new_keys: list[str] = []
    try:
        async with c.sessions.begin() as db:
            theme = await repo.get_theme(db, application_id, theme_id)
            if theme is None:
                raise NotFound(f"could not find theme {theme_id}")
            for key, logo_type, data in accepted:
                permanent = f"logos/{application_id}/{theme_id}/{logo_type.value}-{uuid.uuid4()}.png"
                await asyncio.to_thread(c.objects.put, permanent, data)
                new_keys.append(permanent)
                column = LOGO_COLUMN[logo_type]
                if getattr(theme, column):
                    old_keys.append(getattr(theme, column))
                setattr(theme, column, permanent)
                upload = await db.get(t.LogoUpload, key)
                if upload is not None:
                    await db.delete(upload)
    except BaseException:
        for key in new_keys:
            await asyncio.to_thread(c.objects.delete, key)
        raise
    for key in old_keys + [k for k, _, _ in accepted]:
        await asyncio.to_thread(c.objects.delete, key)
    return theme

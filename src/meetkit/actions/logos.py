"""Theme logos: finalizing uploaded logos into a theme (checked against the logo rules and
re-encoded), and sweeping uploads that were never finalized."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import timedelta

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from ..container import Container
from ..domain.themes import (
    LOGO_COLUMN,
    LogoLimits,
    LogoType,
    dimensions_ok,
    logo_type_of_temp_key,
)
from ..errors import BadRequest, NotFound
from ..storage import repositories as repo
from ..storage import tables as t
from .themes import tell_live_rooms


def _checked_logo(data: bytes, logo_type: LogoType, limits: LogoLimits) -> bytes | str:
    """The logo re-encoded, or the contract's ``invalidProperty`` for one that breaks a rule.

    Re-encoding keeps only the pixels (and the transparency that says which are clear): text chunks,
    profiles, other frames and anything after the image's end are gone, so no PNG/HTML polyglot is
    ever stored or served, whatever a browser would sniff in the original."""
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
            clean = _reencode(img)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return "type"
    return "exceeds_size" if len(clean) > limits.max_bytes else clean


def _reencode(img: Image.Image) -> bytes:
    pixels = img.copy()
    pixels.info = {k: v for k, v in img.info.items() if k == "transparency"}
    out = io.BytesIO()
    pixels.save(out, format="PNG")
    return out.getvalue()


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
            checked = _checked_logo(data, logo_type, limits)
            if isinstance(checked, str):
                errors.append({"logoKey": key, "code": "invalid_logo_properties", "invalidProperty": checked})
                continue
            accepted.append((key, logo_type, checked))
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
            await tell_live_rooms(db, c, theme_id)
    except BaseException:
        for key in new_keys:
            await asyncio.to_thread(c.objects.delete, key)
        raise
    for key in old_keys + [k for k, _, _ in accepted]:
        await asyncio.to_thread(c.objects.delete, key)
    return theme


SWEEP_BATCH = 100


async def do_sweep_logo_uploads(c: Container) -> int:
    """Delete uploads never finalized into a theme, once their policy's lifetime has passed since the
    upload. The policy that let them in expired by then (it was signed before the upload, for that
    lifetime), so the key cannot be uploaded to again. The object goes first, then the row: a crash
    between leaves a row the next pass finishes."""
    cutoff = c.clock.now() - timedelta(seconds=c.settings.upload_policy_ttl)
    swept = 0
    while True:
        async with c.sessions() as db:
            q = select(t.LogoUpload.key).where(t.LogoUpload.uploaded_at < cutoff).order_by(t.LogoUpload.uploaded_at)
            keys = list((await db.scalars(q.limit(SWEEP_BATCH))).all())
        if not keys:
            return swept
        for key in keys:
            await asyncio.to_thread(c.objects.delete, key)
        async with c.sessions.begin() as db:
            for key in keys:
                row = await db.get(t.LogoUpload, key)
                if row is not None:
                    await db.delete(row)
                    swept += 1
        if len(keys) < SWEEP_BATCH:
            return swept

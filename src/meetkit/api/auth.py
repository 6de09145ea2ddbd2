"""Per-application JWT auth (RS256), as the SDKs send it: application_id, iat, exp, jti."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from fastapi import Request
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from ..container import Container
from ..errors import Unauthorized
from ..storage import tables as t

_APP_ID = re.compile(r"[0-9a-fA-F-]{36}")


@dataclass(frozen=True)
class Caller:
    application_id: str


def container(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


async def _public_key(c: Container, application_id: str) -> str | None:
    pem = c.public_keys.get(application_id)
    if pem is None:
        async with c.sessions() as db:
            app = await db.get(t.Application, application_id)
        if app is None:
            return None
        pem = c.public_keys[application_id] = app.public_key_pem
    return pem


async def _remember_jti(c: Container, application_id: str, jti: str, exp: datetime) -> bool:
    """Record a token id; False when it was seen before (a replay)."""
    try:
        async with c.sessions.begin() as db:
            db.add(t.UsedToken(jti=f"{application_id}:{jti}"[:128], expires_at=exp))
    except IntegrityError:
        return False
    if random.random() < 0.001:
        async with c.sessions.begin() as db:
            await db.execute(delete(t.UsedToken).where(t.UsedToken.expires_at < c.clock.now()))
    return True


async def authenticate(request: Request) -> Caller:
    c = container(request)
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("Missing Auth", "Auth header is required")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    token = token.strip()
    try:
        unverified: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        header_alg = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError as exc:
        raise Unauthorized() from exc
    application_id = unverified.get("application_id")
    if header_alg != "RS256" or not isinstance(application_id, str) or not _APP_ID.fullmatch(application_id):
        raise Unauthorized()
    pem = await _public_key(c, application_id)
    if pem is None:
        raise Unauthorized()
    now = c.clock.now()
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            pem,
            algorithms=["RS256"],
            options={"require": ["exp", "iat", "jti"], "verify_aud": False},
            leeway=c.settings.jwt_leeway,
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized() from exc
    # PyJWT checks against the wall clock; meetkit's own clock decides too (tests move it).
    iat, exp, jti = claims["iat"], claims["exp"], claims["jti"]
    if not isinstance(iat, int | float) or not isinstance(exp, int | float) or not isinstance(jti, str) \
            or not jti.isprintable() or not 0 < len(jti) <= 80:
        raise Unauthorized()
    ts = now.timestamp()
    if iat > ts + c.settings.jwt_leeway or exp < ts - c.settings.jwt_leeway:
        raise Unauthorized()
    # exp <= iat is a token that was never valid; the leeway above must not let it through.
    if exp <= iat or exp - iat > c.settings.jwt_max_lifetime:
        raise Unauthorized()
    if not await _remember_jti(c, application_id, jti, datetime.fromtimestamp(exp, UTC)):
        raise Unauthorized()
    return Caller(application_id=application_id)

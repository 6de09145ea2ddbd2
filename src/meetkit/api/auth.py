"""Per-application JWT auth (RS256), as the SDKs send it: application_id, iat, exp, jti."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import Request

from ..container import Container
from ..errors import Unauthorized
from ..storage import tables as t
from .fairness import TenantGate

_APP_ID = re.compile(r"[0-9a-fA-F-]{36}")


@dataclass(frozen=True)
class Caller:
    application_id: str


def container(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


async def _public_key(c: Container, application_id: str) -> rsa.RSAPublicKey | None:
    key = c.public_keys.get(application_id)
    if key is None:
        async with c.sessions() as db:
            app = await db.get(t.Application, application_id)
        if app is None:
            return None
        loaded = serialization.load_pem_public_key(app.public_key_pem.encode())
        if not isinstance(loaded, rsa.RSAPublicKey):
            return None
        key = c.public_keys[application_id] = loaded
    assert isinstance(key, rsa.RSAPublicKey)
    return key


_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_MAX_TIME = 2**40  # seconds since 1970; beyond any real token, well inside datetime's range


def _b64(segment: str) -> bytes:
    if not _SEGMENT.fullmatch(segment):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _parse_token(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, claims, signing input, signature) of a compact JWS, or ValueError."""
    if len(token) > 8192:
        raise ValueError("token too long")
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    header, claims = json.loads(_b64(parts[0])), json.loads(_b64(parts[1]))
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("header and claims must be objects")
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), _b64(parts[2])


def _time_claim(claims: dict[str, Any], name: str, required: bool) -> float | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < _MAX_TIME:
        raise ValueError(f"{name} must be a number of seconds")
    return float(value)


async def authenticate(request: Request) -> AsyncIterator[Caller]:
    """The calling application, verified; its request then holds a unit of the application's fair
    share (api/fairness.py) until it is answered."""
    caller = await _verify(request)
    async with _gate(request).slot(caller.application_id):
        yield caller


async def authenticate_listing(request: Request) -> AsyncIterator[Caller]:
    """As ``authenticate``, for a listing: it weighs one unit per 125 items asked for (a page of 1,000
    rooms is the whole default share of 8), so a tenant's big listings go one at a time."""
    caller = await _verify(request)
    asked = request.query_params.get("page_size", "")
    size = int(asked) if asked.isdigit() and len(asked) < 6 else 20  # validated by the route itself
    async with _gate(request).slot(caller.application_id, cost=-(-size // 125)):
        yield caller


def _gate(request: Request) -> TenantGate:
    gate: TenantGate = request.app.state.tenant_gate
    return gate


async def _verify(request: Request) -> Caller:
    c = container(request)
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("Missing Auth", "Auth header is required")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    token = token.strip()
    try:
        # RS256 only, checked before anything else: no algorithm confusion is possible.
        header_fields, claims, signing_input, signature = _parse_token(token)
        application_id = claims.get("application_id")
        if header_fields.get("alg") != "RS256" or not isinstance(application_id, str) \
                or not _APP_ID.fullmatch(application_id):
            raise ValueError("not an RS256 token for an application")
        iat = _time_claim(claims, "iat", True)
        exp = _time_claim(claims, "exp", True)
        nbf = _time_claim(claims, "nbf", False)
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti.isprintable() or not 0 < len(jti) <= 80:
            raise ValueError("jti must be a short printable string")
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Unauthorized() from exc
    assert iat is not None and exp is not None
    key = await _public_key(c, application_id)
    if key is None:
        raise Unauthorized()
    try:
        key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise Unauthorized() from exc
    ts, leeway = c.clock.now().timestamp(), c.settings.jwt_leeway
    if iat > ts + leeway or exp < ts - leeway or (nbf is not None and nbf > ts + leeway):
        raise Unauthorized()
    # exp <= iat is a token that was never valid; the leeway above must not let it through.
    if exp <= iat or exp - iat > c.settings.jwt_max_lifetime:
        raise Unauthorized()
    if not await c.tokens.claim(f"{application_id}:{jti}", datetime.fromtimestamp(exp, UTC)):
        raise Unauthorized()
    return Caller(application_id=application_id)

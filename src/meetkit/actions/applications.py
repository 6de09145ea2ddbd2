"""Application actions: create (with its RSA key pair), list, show, set the callback URLs and the
origins allowed to embed the meetings."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from ..container import Container
from ..domain.embedding import OriginError, normalize_origins
from ..errors import BadRequest, NotFound
from ..storage import tables as t


@dataclass(frozen=True)
class CreatedApplication:
    application_id: str
    private_key_path: Path


def generate_key_pair() -> tuple[bytes, str]:
    """A new RSA-2048 key pair: (private key PEM, public key PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private_pem, public_pem


async def do_create_application(
    c: Container,
    name: str,
    *,
    public_key_pem: str | None = None,
    key_dir: Path | None = None,
) -> CreatedApplication:
    """Create an application. Without ``public_key_pem`` a key pair is generated and the private key
    written (mode 0600) to ``key_dir`` (default: the data folder's keys/)."""
    app_id = str(uuid.uuid4())
    key_path = Path()
    if public_key_pem is None:
        private_pem, public_key_pem = generate_key_pair()
        folder = key_dir or c.settings.keys_dir
        folder.mkdir(parents=True, exist_ok=True)
        key_path = (folder / f"{app_id}.key").resolve()
        key_path.touch(mode=0o600)
        key_path.write_bytes(private_pem)
    else:
        serialization.load_pem_public_key(public_key_pem.encode())
    async with c.sessions.begin() as db:
        db.add(
            t.Application(
                id=app_id,
                name=name,
                account_id=app_id,
                public_key_pem=public_key_pem,
                webhook_secret=secrets.token_urlsafe(32),
                created_at=c.clock.now(),
            )
        )
    return CreatedApplication(application_id=app_id, private_key_path=key_path)


async def list_applications(c: Container) -> Sequence[t.Application]:
    async with c.sessions() as db:
        return (await db.scalars(select(t.Application).order_by(t.Application.created_at))).all()


async def get_application(c: Container, application_id: str) -> t.Application:
    async with c.sessions() as db:
        row = await db.get(t.Application, application_id)
    if row is None:
        raise NotFound(f"could not find application {application_id}")
    return row


_CALLBACK_URL = re.compile(r"^https?://\S+$")


async def do_set_callbacks(c: Container, application_id: str, urls: dict[str, str | None]) -> t.Application:
    """Set the application-level callback URLs given in ``urls`` (``room_changed_url``,
    ``session_changed_url``, ``recording_changed_url``); an empty string clears one."""
    values: dict[str, str | None] = {}
    for name, url in urls.items():
        if name not in ("room_changed_url", "session_changed_url", "recording_changed_url"):
            raise BadRequest(f"unknown callback {name}")
        if url is None:
            continue
        if url and (len(url) > 2048 or not _CALLBACK_URL.match(url)):
            raise BadRequest(f"{name} must be an http:// or https:// URL of at most 2048 characters")
        values[name] = url or None
    async with c.sessions.begin() as db:
        row = await db.get(t.Application, application_id, with_for_update=True)
        if row is None:
            raise NotFound(f"could not find application {application_id}")
        for name, value in values.items():
            setattr(row, name, value)
    return row


async def do_set_embed_origins(c: Container, application_id: str, origins: Sequence[str] | None) -> t.Application:
    """Set the origins allowed to frame the application's meetings (and to open their sockets):
    ``None`` clears the list (any site may frame, the default), ``[]`` lets no site frame them."""
    try:
        values = None if origins is None else normalize_origins(origins)
    except OriginError as exc:
        raise BadRequest(str(exc)) from exc
    async with c.sessions.begin() as db:
        row = await db.get(t.Application, application_id, with_for_update=True)
        if row is None:
            raise NotFound(f"could not find application {application_id}")
        row.embed_origins = values
    return row


async def count_without_embed_origins(c: Container) -> int:
    """Applications whose meetings any site may frame (no list set), for the start-up warning."""
    async with c.sessions() as db:
        count = await db.scalar(select(func.count()).select_from(t.Application)
                                .where(t.Application.embed_origins.is_(None)))
    return int(count or 0)

"""Application actions: create (with its RSA key pair), list."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from ..container import Container
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

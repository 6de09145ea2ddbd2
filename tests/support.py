"""Test support: a real ``meetkit serve`` process per database backend, TLS certificates, PNG logos."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import ipaddress
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

if TYPE_CHECKING:
    from meetkit.client import MeetingsClient
    from meetkit.container import Container

T = TypeVar("T")

PG_ADMIN_URL = os.environ.get("MEETKIT_TEST_PG_URL", "postgresql://meetkit:meetkit@127.0.0.1:5432/postgres")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_tls_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meetkit-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_pg_database() -> str:
    name = f"meetkit_test_{uuid.uuid4().hex[:12]}"
    run(_pg_admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class Server:
    backend: str
    base_url: str
    data_dir: Path
    database_url: str
    cert_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def ssl(self) -> ssl.SSLContext:
        """Trusts this server's self-signed certificate."""
        return ssl.create_default_context(cafile=str(self.cert_path))


def start_server(backend: str, folder: Path, extra_env: dict[str, str] | None = None,
                 database_url: str | None = None, *, tls: bool = True) -> Server:
    data_dir = folder / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    if database_url is None:
        database_url = (
            create_pg_database() if backend == "postgresql" else f"sqlite+aiosqlite:///{data_dir / 'meetkit.db'}"
        )
    cert, key = make_tls_cert(folder)
    port = free_port()
    base_url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEETKIT_")},
        "MEETKIT_DATA_DIR": str(data_dir),
        "MEETKIT_DATABASE_URL": database_url,
        "MEETKIT_PUBLIC_URL": base_url,
        "MEETKIT_DIAL_IN_NUMBERS": '[{"number": "+441234567890", "locale": "en-GB", "display_name": "United Kingdom"}]',
        # API-only servers need no media server (and several must not share Janus's ports); the media
        # and browser tests ask for one with their own ports.
        "MEETKIT_MEDIA_MODE": "off",
        # Every test talks from 127.0.0.1 and many look up unknown rooms on purpose: the probe budget
        # (api/probes.py) is tested on servers of its own (tests/api/test_api_embedding.py).
        "MEETKIT_UNKNOWN_CODE_BURST": "1000000",
        # The same for how fast one address opens meeting sockets (tests/signalling/test_flow.py tests it).
        "MEETKIT_SOCKET_OPENS_BURST": "1000000",
        **(extra_env or {}),
    }
    log_path = folder / "server.log"
    log = log_path.open("wb")
    tls_args = ["--tls-cert", str(cert), "--tls-key", str(key)] if tls else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "meetkit.cli", "serve", "--host", "127.0.0.1", "--port", str(port), *tls_args],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base_url}/v1/meetings/openapi.json", verify=ssl.create_default_context(cafile=str(cert)),
                         timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"meetkit serve did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)
    return Server(backend, base_url, data_dir, database_url, cert, env, proc, log_path)


MEDIA_ADDR = "127.0.0.5"  # the loopback-range address on a veth that Janus offers to browsers (docs/media.md)


def media_net() -> None:
    """Make the veth carrying MEDIA_ADDR (scripts/media-net.sh; root)."""
    subprocess.run(["bash", str(Path(__file__).resolve().parent.parent / "scripts" / "media-net.sh")],
                   check=True, capture_output=True, timeout=30)


def media_env(**extra: str) -> dict[str, str]:
    """A server with its own Janus on free ports, ICE on MEDIA_ADDR only, browser candidates kept to
    127.0.0.0/8; ``extra`` adds or overrides MEETKIT_* settings."""
    rtp = 40000 + free_port() % 20000
    return {
        "MEETKIT_MEDIA_MODE": "managed",
        "MEETKIT_JANUS_WS_PORT": str(free_port()),
        "MEETKIT_JANUS_ADMIN_PORT": str(free_port()),
        "MEETKIT_MEDIA_ICE_INTERFACE": MEDIA_ADDR,
        "MEETKIT_MEDIA_CANDIDATE_NETWORKS": "127.0.0.0/8",
        "MEETKIT_MEDIA_RTP_PORTS": f"{rtp}-{rtp + 400}",
        **extra,
    }


def stop_server(server: Server, *, keep_database: bool = False) -> None:
    """Stops the server and drops its PostgreSQL database (unless other servers share it)."""
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)
    if server.backend == "postgresql" and not keep_database:
        drop_pg_database(server.database_url)


def png_bytes(width: int, height: int, *, transparent: bool = True, mode: str = "RGBA") -> bytes:
    """A logo: a filled circle on a transparent (or white) background."""
    from PIL import Image, ImageDraw

    img = Image.new(mode, (width, height), (0, 0, 0, 0) if transparent else (255, 255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.ellipse((width // 4, height // 4, max(width // 4, 3 * width // 4), max(height // 4, 3 * height // 4)),
                 fill=(200, 30, 30, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def insert_recording(server: Server, application_id: str, *, status: str = "uploaded",
                     data: bytes | None = b"\x00\x00\x00\x18ftypmp42") -> tuple[str, str]:
    """A session and a recording stored through meetkit's own storage layer: (session_id, recording_id).

    Recordings are produced by the meeting's recording pipeline; API tests that only read and delete
    them put one in place the way the pipeline leaves it."""
    from meetkit.storage import tables as t

    async def go() -> tuple[str, str]:
        async with server_container(server) as c:
            now = dt.datetime.now(dt.UTC)
            async with c.sessions.begin() as db:
                room = t.Room(
                    id=str(uuid.uuid4()), application_id=application_id, display_name="recorded", meta=None,
                    type="instant", expires_at=now + dt.timedelta(minutes=10), expire_after_use=False,
                    theme_id=None, join_approval_level="none", recording_options={}, initial_join_options={},
                    callback_urls={}, available_features={}, ui_settings={}, meeting_code=str(uuid.uuid4().int)[:9],
                    host_token=uuid.uuid4().hex, is_available=False, created_at=now,
                )
                db.add(room)
                session = t.Session(id=uuid.uuid4().hex, room_id=room.id, application_id=application_id,
                                    started_at=now - dt.timedelta(minutes=5), ended_at=now)
                db.add(session)
                await db.flush()
                key = f"recordings/{application_id}/{uuid.uuid4()}.mp4" if data is not None else None
                if key is not None and data is not None:
                    c.objects.put(key, data)
                rec = t.Recording(id=str(uuid.uuid4()), application_id=application_id, session_id=session.id,
                                  room_id=room.id, status=status, started_at=now - dt.timedelta(minutes=4),
                                  ended_at=now - dt.timedelta(minutes=1), storage_key=key, created_at=now)
                db.add(rec)
            return session.id, rec.id

    return run(go())


@asynccontextmanager
async def server_container(server: Server) -> AsyncIterator[Container]:
    """meetkit's own container on a test server's database and data folder (for setting up state
    through the project's storage layer, and for reading it back)."""
    from meetkit.app import build_container
    from meetkit.config import Settings

    # The server's object store too (MEETKIT_STORAGE_BACKEND, MEETKIT_S3_*), so objects land where it reads them.
    storage = {k.removeprefix("MEETKIT_").lower(): v for k, v in server.env.items()
               if k.startswith(("MEETKIT_STORAGE_", "MEETKIT_S3_"))}
    c = build_container(Settings(data_dir=server.data_dir, database_url=server.database_url, **storage))
    try:
        yield c
    finally:
        await c.dispose()


def create_application(server: Server, key_dir: Path, name: str = "test") -> tuple[str, str]:
    """A new application on the server: (application_id, private key PEM)."""
    from meetkit.actions.applications import do_create_application

    async def go() -> tuple[str, str]:
        async with server_container(server) as c:
            made = await do_create_application(c, name, key_dir=key_dir)
        return made.application_id, made.private_key_path.read_text()

    return run(go())


def other_client(server: Server, key_dir: Path) -> MeetingsClient:
    """A client of another application on the same server."""
    from meetkit.client import MeetingsClient

    app_id, key = create_application(server, key_dir, "other")
    return MeetingsClient(server.base_url, app_id, key, verify=str(server.cert_path))


def assert_error(resp: httpx.Response, status: int, name: str | None = None,
                 message: str | None = None) -> dict[str, Any]:
    """The contract's error body: {message, name, status[, errors]}, all three always present."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert isinstance(body, dict)
    assert {"message", "name", "status"} <= set(body) <= {"message", "name", "status", "errors"}, body
    assert body["status"] == status
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["name"], str) and body["name"]
    if "errors" in body:
        assert isinstance(body["errors"], list)
    if name is not None:
        assert body["name"] == name, body
    if message is not None:
        assert body["message"] == message, body
    return body


def metric_sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the Prometheus text ``text`` (None if absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if m is None or m.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None

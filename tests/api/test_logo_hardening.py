"""Logos cannot carry a page (issue 10, finding 4's logo part, and the upload sweep of finding 12),
over real HTTP on SQLite and PostgreSQL: a PNG/HTML polyglot is re-encoded when finalized, logos are
served with nosniff, and uploads never finalized are swept once their policy's lifetime has passed."""

from __future__ import annotations

import io
import zlib
from datetime import UTC, datetime, timedelta

import httpx
from PIL import Image
from sqlalchemy import select

from meetkit.actions.logos import do_sweep_logo_uploads
from meetkit.app import build_container
from meetkit.client import MeetingsClient
from meetkit.clock import FakeClock
from meetkit.config import Settings
from meetkit.container import Container
from meetkit.storage import tables as t
from meetkit.worker.lifecycle import LifecycleWorker

from ..support import Server, run
from .test_api_logos import assert_ok, finalize, logo, new_theme, same_pixels, stored, upload

HTML = b"<html><body><script>alert(document.domain)</script></body></html>"


def chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def polyglot(width: int = 60, height: int = 60) -> bytes:
    """A valid logo that is also a page: HTML in a tEXt chunk before the image data, more after IEND."""
    png = logo(width, height)
    ihdr_end = 8 + 25  # signature, then the IHDR chunk (4 length + 4 type + 13 data + 4 crc)
    text = chunk(b"tEXt", b"Comment\x00" + HTML)
    return png[:ihdr_end] + text + png[ihdr_end:] + HTML


def test_polyglot_is_re_encoded_and_served_with_nosniff(client: MeetingsClient, server: Server) -> None:
    data = polyglot()
    with Image.open(io.BytesIO(data)) as img:  # what the attacker relies on: it is a valid PNG
        img.load()
        assert img.format == "PNG" and img.info.get("Comment") == HTML.decode()
    theme_id = new_theme(client)
    key = upload(client, server, "colored", data)
    assert_ok(finalize(client, theme_id, [key]))
    theme = client.get_theme(theme_id)
    served = httpx.get(theme["brand_image_colored_url"], verify=server.ssl)
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert b"<html" not in served.content and b"script" not in served.content and b"tEXt" not in served.content
    assert served.content.endswith(chunk(b"IEND", b""))  # nothing after the image's end
    assert same_pixels(served.content, data)
    assert stored(server, theme["brand_image_colored"]) == served.content  # what is stored, not only served


def fake_container(server: Server, clock: FakeClock) -> Container:
    return build_container(Settings(data_dir=server.data_dir, database_url=server.database_url), clock=clock)


async def _uploads(c: Container, keys: list[str]) -> set[str]:
    async with c.sessions() as db:
        return set((await db.scalars(select(t.LogoUpload.key).where(t.LogoUpload.key.in_(keys)))).all())


def test_uploads_never_finalized_are_swept_after_the_policy_lifetime(client: MeetingsClient,
                                                                     server: Server) -> None:
    old = upload(client, server, "white", logo(20, 20))
    ttl = Settings().upload_policy_ttl

    async def go() -> None:
        # The server's own workers run on the wall clock; this container's clock is moved past the lifetime.
        clock = FakeClock(datetime.now(UTC) + timedelta(seconds=ttl - 60))
        c = fake_container(server, clock)
        try:
            # The shared server holds other tests' uploads, older ones among them: only ``old``'s fate is ours.
            await do_sweep_logo_uploads(c)
            assert await _uploads(c, [old]) == {old}  # not yet past its lifetime
            clock.advance(120)
            await LifecycleWorker(c).tick()
            assert await _uploads(c, [old]) == set()
        finally:
            await c.engine.dispose()

    run(go())
    assert stored(server, old) is None
    # Finalizing it now finds nothing; a fresh upload still works.
    theme_id = new_theme(client)
    resp = finalize(client, theme_id, [old])
    assert resp.status_code == 400 and resp.json()["errors"] == [{"logoKey": old, "code": "key_not_found"}]
    assert_ok(finalize(client, theme_id, [upload(client, server, "white", logo(20, 20))]))

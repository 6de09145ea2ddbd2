"""Recording downloads are the application's own (issue 10, finding 12): the signed link's answer
carries ``Cache-Control: private, no-store``, so no shared cache keeps the video or the link. (The S3
redirect path is checked in tests/storage/test_s3_store.py.)"""

from __future__ import annotations

import httpx

from meetkit.client import MeetingsClient

from ..support import Server, insert_recording


def test_recording_download_is_private_and_not_stored(client: MeetingsClient, server: Server) -> None:
    _, rec_id = insert_recording(server, client.application_id)
    href = client.get_recording(rec_id)["_links"]["url"]["href"]
    got = httpx.get(href, verify=server.ssl, timeout=30)
    assert got.status_code == 200 and got.headers["content-type"] == "video/mp4"
    assert got.headers["cache-control"] == "private, no-store"
    ranged = httpx.get(href, verify=server.ssl, headers={"Range": "bytes=4-11"}, timeout=30)
    assert ranged.status_code == 206 and ranged.headers["cache-control"] == "private, no-store"

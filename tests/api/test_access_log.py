"""``meetkit serve --access-log`` logs every request without the credentials in its query (issue 10
finding 8): a host link's ``participant_token`` and a download link's ``signature`` never reach the log."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx

from meetkit.accesslog import redact
from meetkit.client import MeetingsClient

from ..support import Server, create_application, free_port


def test_redact_keeps_the_rest_of_the_target() -> None:
    assert redact("/123456789?participant_token=abc&x=1") == "/123456789?participant_token=[redacted]&x=1"
    assert redact("/v1/meetings/recordings/r/download?expires=9&signature=f00") == \
        "/v1/meetings/recordings/r/download?expires=9&signature=[redacted]"
    assert redact("/a?PARTICIPANT_TOKEN=abc") == "/a?PARTICIPANT_TOKEN=[redacted]"
    assert redact("/a?my_participant_token=abc") == "/a?my_participant_token=abc"  # another name
    assert redact("/plain/path") == "/plain/path"


def test_access_log_redacts_tokens(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MEETKIT_")},
           "MEETKIT_DATA_DIR": str(data), "MEETKIT_PUBLIC_URL": base, "MEETKIT_MEDIA_MODE": "off"}
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "meetkit.cli", "serve", "--access-log", "--host", "127.0.0.1",
                                 "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/v1/meetings/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.1)

        server = Server("sqlite", base, data, f"sqlite+aiosqlite:///{data / 'meetkit.db'}", tmp_path, env, proc,
                        log_path)
        app_id, key = create_application(server, tmp_path)
        with MeetingsClient(base, app_id, key) as api:
            room = api.create_room({"display_name": "Logged"})
        host_url = room["_links"]["host_url"]["href"]
        token = parse_qs(urlparse(host_url).query)["participant_token"][0]
        assert httpx.get(host_url, timeout=10).status_code == 200
        signed = f"{base}/v1/meetings/recordings/nope/download?expires=1&signature=deadbeefcafe"
        httpx.get(signed, timeout=10)

        # The access log line of the last request shows up (bounded wait), then the whole log is read.
        deadline = time.monotonic() + 10
        while "signature=[redacted]" not in log_path.read_text():
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.05)
        text = log_path.read_text()
        assert f"GET /{room['meeting_code']}?participant_token=[redacted] HTTP/1.1" in text
        assert token not in text
        assert "deadbeefcafe" not in text
    finally:
        proc.terminate()
        proc.wait(timeout=10)

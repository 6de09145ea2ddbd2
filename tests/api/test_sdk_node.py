"""The official Node SDK (@vonage/meetings@1.12.1), unpatched but for its host, completes every call.

tests/sdk/node/all_calls.mjs drives the SDK; this test installs it from the lock file, runs it against
the live server over HTTPS and reads its closing ``N passed, M failed`` line."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ..support import Server, insert_recording

pytestmark = pytest.mark.sdk

NODE_DIR = Path(__file__).parent / "sdk" / "node"


@pytest.fixture(scope="session")
def node_sdk() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed (scripts/services.sh installs them)")
    marker = NODE_DIR / "node_modules" / "@vonage" / "meetings" / "package.json"
    if not marker.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True,
                       timeout=300)
    return NODE_DIR


def test_node_sdk_every_call(node_sdk: Path, server: Server, application: tuple[str, str], tmp_path: Path) -> None:
    app_id, key = application
    key_path = tmp_path / "private.key"
    key_path.write_text(key)
    session_id, recording_id = insert_recording(server, app_id)
    env = {
        **os.environ,
        "MEETKIT_URL": server.base_url,
        "MEETKIT_APP_ID": app_id,
        "MEETKIT_PRIVATE_KEY_PATH": str(key_path),
        "MEETKIT_RECORDING_ID": recording_id,
        "MEETKIT_SESSION_ID": session_id,
        "NODE_EXTRA_CA_CERTS": str(server.cert_path),
    }
    proc = subprocess.run(["node", "all_calls.mjs"], cwd=node_sdk, env=env, capture_output=True, text=True,
                          timeout=300)
    out = proc.stdout + proc.stderr
    summary = re.search(r"^(\d+) passed, (\d+) failed$", proc.stdout, re.M)
    assert summary, out[-4000:]
    passed, failed = int(summary.group(1)), int(summary.group(2))
    assert proc.returncode == 0 and failed == 0, out[-6000:]
    assert passed >= 50, out[-4000:]
    assert "not ok" not in proc.stdout

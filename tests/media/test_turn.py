"""TURN through meetkit's own coturn on loopback: a Chromium participant that may only use relayed
candidates (``iceTransportPolicy: "relay"``) and one that connects directly see and hear each other
through Janus; the relay-only one's connections run over a relay candidate. Its credentials come
fresh in ``ice.servers`` before they expire and the fresh ones work; coturn refuses expired ones and
ones signed with another secret.

coturn listens on 127.0.0.1 and relays from 127.0.0.5, the address Janus answers on (the veth of
scripts/media-net.sh), so every packet stays in 127.0.0.0/8."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from meetkit.client import MeetingsClient
from meetkit.config import Settings
from meetkit.media.turn import TurnSupervisor

from .. import browser as b
from ..support import MEDIA_ADDR, Server, create_application, free_port, media_env, media_net, start_server, stop_server

pytestmark = [
    pytest.mark.skipif(not b.chromium_available(), reason="Debian chromium is installed by scripts/services.sh"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the loopback media link needs root (CI runs as root)"),
    pytest.mark.skipif(not os.path.exists("/usr/bin/turnserver"), reason="coturn is installed by scripts/install.sh"),
]

TTL = 20  # seconds: short, so a refresh (at 75 %) and an expiry happen within the test

# Every peer connection of the page is kept in window.__pcs. RELAY allows relayed candidates only; DIRECT
# never sees a TURN server (a page that has one may fairly pick a relayed pair when its host checks are
# slow, as on a loaded CI machine), so the mixed meeting is one relayed and one direct participant.
TRACK = """(() => {
  const Native = window.RTCPeerConnection;
  const mode = window.__ice;
  const adapt = (config) => mode === 'relay' ? { ...(config || {}), iceTransportPolicy: 'relay' }
    : mode === 'direct' ? { ...(config || {}), iceServers: [] } : config;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(config, ...rest) {
      super(adapt(config), ...rest);
      window.__pcs.push(this);
    }
    setConfiguration(config) { return super.setConfiguration(adapt(config)); }
  };
})();"""
RELAY = "window.__ice = 'relay';" + TRACK
DIRECT = "window.__ice = 'direct';" + TRACK

DECODED_JS = """async () => {
  const r = {video_frames: 0, audio_packets: 0};
  for (const pc of window.__pcs) {
    if (pc.connectionState === 'closed') continue;
    (await pc.getStats()).forEach(s => {
      if (s.type !== 'inbound-rtp') return;
      if (s.kind === 'video') r.video_frames += s.framesDecoded || 0;
      if (s.kind === 'audio') r.audio_packets += s.packetsReceived || 0;
    });
  }
  return r;
}"""

# For every connected peer connection: the candidate types of its selected pair.
SELECTED_JS = """async () => {
  const out = [];
  for (const pc of window.__pcs) {
    if (pc.connectionState !== 'connected') continue;
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach(s => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
    });
    if (!pair) stats.forEach(s => {
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
    });
    if (!pair) continue;
    const l = stats.get(pair.localCandidateId), r = stats.get(pair.remoteCandidateId);
    out.push({local: l.candidateType, local_address: l.address, remote: r.candidateType, remote_address: r.address,
              relay_protocol: l.relayProtocol || null});
  }
  return out;
}"""

# Gather relay-only candidates with the given ICE servers: how many relayed ones, and the errors.
GATHER_JS = """async (servers) => {
  const pc = new RTCPeerConnection({iceServers: servers, iceTransportPolicy: 'relay'});
  const out = {relay: 0, errors: []};
  pc.onicecandidate = e => { if (e.candidate && e.candidate.type === 'relay') out.relay++; };
  pc.onicecandidateerror = e => out.errors.push(e.errorCode);
  pc.createDataChannel('probe');
  const done = new Promise(resolve => {
    const timer = setTimeout(resolve, 10000);
    pc.onicegatheringstatechange = () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); }
    };
  });
  await pc.setLocalDescription(await pc.createOffer());
  await done;
  pc.close();
  return out;
}"""

CORE = "() => window.__meetkit"  # rtcConfig() and trackPeer() of the page's own core.js (docs/ui.md)


@pytest.fixture(scope="module")
def turn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    media_net()
    # Above the ephemeral range (where media_env picks Janus's RTP ports and free_port its ports).
    relay = 61000 + free_port() % 4000
    env = media_env(MEETKIT_TURN_MODE="managed", MEETKIT_TURN_PORT=str(free_port()),
                    MEETKIT_TURN_LISTENING_IPS="127.0.0.1", MEETKIT_TURN_RELAY_IPS=MEDIA_ADDR,
                    MEETKIT_TURN_RELAY_PORTS=f"{relay}-{relay + 200}", MEETKIT_TURN_ALLOW_LOOPBACK_PEERS="true",
                    MEETKIT_TURN_CREDENTIAL_TTL=str(TTL))
    srv = start_server("sqlite", tmp_path_factory.mktemp("turn"), env, tls=False)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def api(turn_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeetingsClient]:
    app_id, key = create_application(turn_server, tmp_path_factory.mktemp("keys"))
    with MeetingsClient(turn_server.base_url, app_id, key) as c:
        yield c


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await b.launch(pw)
        try:
            yield browser
        finally:
            await browser.close()


async def until(page: Any, js: str, check: Any, timeout: float, what: str) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await page.evaluate(js)
        if check(value):
            return value
        assert loop.time() < deadline, f"{what} within {timeout}s: {value}"
        await asyncio.sleep(0.25)


async def open_page(browser: Any, origin: str, url: str, name: str, script: str) -> Any:
    ctx = await b.new_context(browser, origin)
    await ctx.add_init_script(script)
    page = await ctx.new_page()
    await b.join(page, url, name)
    await b.wait_state(page, "joined", timeout=30)
    return page


def secret_of(server: Server) -> str:
    return (server.data_dir / "turn" / "static_auth_secret").read_text().strip()


def signed(secret: str, user: str, expires: int) -> dict[str, Any]:
    name = f"{expires}:{user}"
    digest = hmac.new(secret.encode(), name.encode(), hashlib.sha1).digest()
    return {"name": name, "credential": base64.b64encode(digest).decode()}


async def test_a_relay_only_participant_gets_media_both_ways_through_coturn(
        turn_server: Server, api: MeetingsClient, chromium: Any) -> None:
    room = api.create_room({"display_name": "TURN"})
    origin = turn_server.base_url
    host = await open_page(chromium, origin, room["_links"]["host_url"]["href"], "Hana Host", DIRECT)
    guest = await open_page(chromium, origin, room["_links"]["guest_url"]["href"], "Rey Relay", RELAY)

    # The page config carries no TURN credentials (a GET must not mint relays); once admitted the page has
    # its participant's own: "<expiry>:<id>", signed with coturn's secret.
    config = json.loads(await guest.text_content("#meetkit-config") or "{}")
    assert config["ice_servers"] == []
    now_servers = (await guest.evaluate(f"async () => (await ({CORE})()).rtcConfig().iceServers"))
    participant_id = await guest.evaluate("() => window.__meetkit.participantId")
    (current,) = now_servers
    assert current["urls"][0].startswith("turn:127.0.0.1:")
    expiry, who = current["username"].split(":")
    assert who == participant_id and 0 < int(expiry) - time.time() <= TTL + 1
    assert current["credential"] == signed(secret_of(turn_server), participant_id, int(expiry))["credential"]

    # Each decodes the other's video (and receives audio).
    def media(r: dict[str, int]) -> bool:
        return r["video_frames"] > 0 and r["audio_packets"] > 0

    await until(guest, DECODED_JS, media, 30, "the relay-only guest decodes the host")
    await until(host, DECODED_JS, media, 30, "the host decodes the relay-only guest")
    # The guest's connections run over coturn's relay (on 127.0.0.5) to Janus (127.0.0.5).
    pairs = await until(guest, SELECTED_JS, bool, 15, "a connected pair")
    assert all(p["local"] == "relay" and p["local_address"] == MEDIA_ADDR for p in pairs), pairs
    assert all(p["remote_address"].startswith("127.") for p in pairs), pairs
    host_pairs = await host.evaluate(SELECTED_JS)
    assert host_pairs and all(p["local"] == "host" for p in host_pairs), host_pairs

    # The secret is in its 0600 file only: not in coturn's log, nor in meetkit's.
    secret = secret_of(turn_server)
    folder = turn_server.data_dir / "turn"
    for log in (folder / "turnserver.log", folder / "turnserver.out", turn_server.log_path):
        assert secret not in log.read_text(errors="replace")


async def test_credentials_are_refreshed_and_coturn_checks_them(
        turn_server: Server, api: MeetingsClient, chromium: Any) -> None:
    room = api.create_room({"display_name": "TURN refresh"})
    guest = await open_page(chromium, turn_server.base_url, room["_links"]["guest_url"]["href"], "Rey", TRACK)
    servers_js = f"async () => (await ({CORE})()).rtcConfig().iceServers"
    (first,) = await guest.evaluate(servers_js)
    # A connection of the page that is tracked gets each fresh set through setConfiguration.
    await guest.evaluate(f"""async () => {{
      const core = await ({CORE})();
      window.__tracked = core.trackPeer(new RTCPeerConnection(core.rtcConfig()));
    }}""")

    # ice.servers arrives at 75 % of the lifetime with a later expiry.
    fresh_js = "async () => (await (" + CORE + ")()).rtcConfig().iceServers[0].username"
    fresh_name = await until(guest, fresh_js, lambda name: name != first["username"], TTL, "fresh credentials")
    assert int(fresh_name.split(":")[0]) > int(first["username"].split(":")[0])
    tracked = await guest.evaluate("() => window.__tracked.getConfiguration().iceServers[0].username")
    assert tracked == fresh_name

    # Once the first set has expired, coturn refuses it; the fresh set still allocates a relay.
    first_expiry = int(first["username"].split(":")[0])
    await asyncio.sleep(max(0.0, first_expiry - time.time() + 1.5))
    (fresh,) = await guest.evaluate(servers_js)
    assert int(fresh["username"].split(":")[0]) > time.time()
    ok = await guest.evaluate(GATHER_JS, [fresh])
    assert ok["relay"] > 0, ok
    expired = await guest.evaluate(GATHER_JS, [first])
    assert expired["relay"] == 0 and 401 in expired["errors"], expired

    # Credentials signed with another secret are refused: coturn checks the HMAC.
    forged = signed("not-the-secret", "intruder", int(time.time()) + 600)
    wrong = await guest.evaluate(GATHER_JS, [{"urls": fresh["urls"], "username": forged["name"],
                                              "credential": forged["credential"]}])
    assert wrong["relay"] == 0 and 401 in wrong["errors"], wrong
    right = signed(secret_of(turn_server), "intruder", int(time.time()) + 600)
    good = await guest.evaluate(GATHER_JS, [{"urls": fresh["urls"], "username": right["name"],
                                             "credential": right["credential"]}])
    assert good["relay"] > 0, good


async def test_coturn_is_supervised(tmp_path: Path) -> None:
    """Killed, it is started again; left running by a meetkit that died, the next start replaces it."""
    media_net()  # the relay address
    relay = 61000 + free_port() % 4000
    settings = Settings(data_dir=tmp_path, turn_mode="managed", turn_port=free_port(), turn_listening_ips="127.0.0.1",
                        turn_relay_ips=MEDIA_ADDR, turn_relay_ports=f"{relay}-{relay + 20}",
                        media_ice_interface=MEDIA_ADDR, _env_file=None)  # type: ignore[call-arg]
    first = TurnSupervisor(settings, backoff_min=0.2)
    await first.start()
    second: TurnSupervisor | None = None
    try:
        killed = first.pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        async with asyncio.timeout(15):
            while first.pid in (None, killed) or first.restarts < 1:
                await asyncio.sleep(0.1)
        # meetkit "dies": nobody watches this coturn any more; a new start ends it and runs its own.
        orphan = first.process.proc
        assert orphan is not None and first._watchdog.task is not None
        first._watchdog.task.cancel()
        second = TurnSupervisor(settings)
        await second.start()
        async with asyncio.timeout(10):
            await orphan.wait()
        assert second.pid not in (None, orphan.pid)
    finally:
        if second is not None:
            await second.stop()
        await first.stop()

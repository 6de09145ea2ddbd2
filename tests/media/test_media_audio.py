"""Everyone who speaks is heard: aiortc participants through real meetkit signalling and a real Janus.
Above MEETKIT_AUDIO_ALL_UP_TO senders (2 here), a listener's one subscriber PC has MEETKIT_AUDIO_SLOTS
(2) audio slots that meetkit re-points with ``switch`` at whoever Janus hears talking; four talkers
take turns and each is heard. Prints the time from a talker's first loud packet to the first loud
audio of theirs at the listener (aim ≤ 300 ms; not asserted: the machine is shared)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest

from meetkit.client import MeetingsClient

from ..signalling_client import Peer
from ..support import Server, create_application, media_env, media_net, start_server, stop_server
from .peers import Receiver, Voice, publish
from .test_media_meeting import feed_of, loopback_ice  # noqa: F401  (fixture)

pytest.importorskip("aiortc")
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the loopback media link needs root (CI runs as root)")


@pytest.fixture(scope="module")
def slots_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    media_net()
    env = media_env(MEETKIT_AUDIO_ALL_UP_TO="2", MEETKIT_AUDIO_SLOTS="2")
    srv = start_server("sqlite", tmp_path_factory.mktemp("media-audio"), env, tls=False)
    yield srv
    stop_server(srv)


async def until(predicate: Any, seconds: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"not within {seconds}s: {what() if callable(what) else what}")
        await asyncio.sleep(0.01)


async def test_four_talkers_two_slots_everyone_is_heard(slots_server: Server, loopback_ice: None) -> None:  # noqa: F811
    app_id, key = await asyncio.to_thread(create_application, slots_server, slots_server.data_dir.parent)
    with MeetingsClient(slots_server.base_url, app_id, key) as api:
        room = api.create_room({"display_name": "talkers", "join_approval_level": "none"})
    token = room["_links"]["host_url"]["href"].split("participant_token=")[1]
    base, code = slots_server.base_url, room["meeting_code"]
    # The listener is the host (hosts are always heard directly, so the talkers are guests).
    listener = await Peer.open(base, code, "Lena", host_token=token)
    await listener.expect("admitted")
    receiver = Receiver(listener)
    talkers: list[Peer] = []
    voices: list[Voice] = []
    pcs: list[Any] = [receiver]
    try:
        for name in ("Ann", "Ben", "Cat", "Dan"):
            peer = await Peer.open(base, code, name)
            await peer.expect("admitted")
            voice = Voice()
            pcs.append(await publish(peer, video=name == "Ann", voice=voice))
            talkers.append(peer)
            voices.append(voice)
        for peer in talkers:
            await feed_of(listener, peer.id)

        # Four senders, two slots: the listener's live audio m-lines are two slots (the first two
        # talkers' direct audio, from when they were under the threshold, was unsubscribed).
        def audio() -> list[dict[str, Any]]:
            return [s for s in receiver.streams.values() if s["type"] == "audio" and s.get("participant_id")]

        await until(lambda: len(audio()) == 2 and all(s["slot"] for s in audio()), 20,
                    lambda: f"two slots, got {receiver.streams}")
        await asyncio.sleep(0.5)  # the last answer reaches Janus
        offers = receiver.offers

        figures = []
        for peer, voice in zip([talkers[2], talkers[3], talkers[0], talkers[1]],
                               [voices[2], voices[3], voices[0], voices[1]], strict=True):
            receiver.heard_at.clear()
            seen = len(listener.frames)
            voice.speak()
            await until(lambda p=peer: p.id in receiver.heard_at, 10,  # type: ignore[misc]
                        lambda s=seen: f"the talker is heard: {listener.frames[s:]} {receiver.streams}")
            assert voice.spoke_at is not None
            figures.append(receiver.heard_at[peer.id] - voice.spoke_at)
            # The talking indicator comes from the same levels, to everyone.
            await until(lambda p=peer, s=seen: any(f["type"] == "talking" and f["participant_id"] == p.id  # type: ignore[misc]
                                                   and f["talking"] for f in listener.frames[s:]), 5, "talking")
            await asyncio.sleep(1.0)
            voice.speak(False)
            await asyncio.sleep(1.0)
        # Slots were re-pointed by switch, never by a renegotiation.
        assert receiver.offers == offers
        print("\nfirst loud packet → heard at the listener (ms):", [round(x * 1000) for x in figures])
    finally:
        for pc in pcs:
            await pc.close()
        for peer in [listener, *talkers]:
            await peer.close()

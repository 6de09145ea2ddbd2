"""Live captions over real sockets to a real server (media off: who may switch them, who is told; the
audio path and the engines: tests/e2e/test_e2e_captions.py, tests/media/test_media_forward.py,
tests/captions/). On both databases."""

from __future__ import annotations

import asyncio

from meetkit.client import MeetingsClient

from ..signalling_client import Peer
from ..support import Server
from .test_room_rules import leave_all, long_term, settled
from .test_signalling import host_and_guest


async def _until(peer: Peer, since: int, kind: str, **fields: object) -> dict[str, object]:
    """A frame of ``kind`` with these fields after the first ``since`` frames (bounded: the bus carries a
    PATCH in well under 5 s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    seen = since
    while loop.time() < deadline:
        for frame in peer.frames[seen:]:
            if frame["type"] == kind and all(frame.get(k) == v for k, v in fields.items()):
                return frame
        seen = len(peer.frames)
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {kind} {fields}: {peer.frames[-5:]}")


async def test_captions_need_the_flag_and_a_host_and_everyone_is_told(
        meet_server: Server, app_client: MeetingsClient) -> None:
    _, code, token = long_term(app_client)  # is_captions_available is false by default
    host, guest = await host_and_guest(meet_server.base_url, code, token)
    await host.send({"type": "captions.start"})
    assert (await host.expect("error"))["code"] == "captions_unavailable"
    await leave_all(guest, host)

    room_id, code, token = long_term(app_client, available_features={"is_captions_available": True})
    host, guest = await host_and_guest(meet_server.base_url, code, token)
    await guest.send({"type": "captions.start"})
    assert (await guest.expect("error"))["code"] == "forbidden"
    await guest.send({"type": "captions.get"})
    assert await guest.expect("captions.state") == {"type": "captions.state", "on": False}
    marks = [len(host.frames), len(guest.frames)]
    await host.send({"type": "captions.start"})
    for peer, mark in zip((host, guest), marks, strict=True):  # the notice: people are transcribed, by what
        assert await _until(peer, mark, "captions.state", on=True) == {
            "type": "captions.state", "on": True, "by": host_id(host), "engine": "pocketsphinx"}
    late = await Peer.open(meet_server.base_url, code, "Lou")
    await late.expect("admitted")
    await late.send({"type": "captions.get"})
    assert await late.expect("captions.state") == {"type": "captions.state", "on": True, "engine": "pocketsphinx"}
    await guest.send({"type": "captions.stop"})
    assert (await guest.expect("error"))["code"] == "forbidden"
    peers = (host, guest, late)
    marks = [len(p.frames) for p in peers]
    await host.send({"type": "captions.stop"})
    for peer, mark in zip(peers, marks, strict=True):
        await _until(peer, mark, "captions.state", on=False, by=host_id(host))
    # On again, then the room's flag goes off by a PATCH: captions stop for everyone.
    mark = len(late.frames)
    await host.send({"type": "captions.start"})
    await _until(late, mark, "captions.state", on=True)
    marks = [len(p.frames) for p in peers]
    app_client.update_room(room_id, {"available_features": {"is_captions_available": False}})
    for peer, mark in zip(peers, marks, strict=True):
        await _until(peer, mark, "captions.state", on=False)
    await settled(host)
    await leave_all(late, guest, host)


def host_id(peer: Peer) -> str:
    welcome = next(f for f in peer.frames if f["type"] == "welcome")
    return str(welcome["participant_id"])

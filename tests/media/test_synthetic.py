"""The synthetic participant (tests/synthetic) against a real meetkit with its own Janus: two
pre-encoded publishers and one receive-only participant exchange packets, so the load generator
(bench/room_load.py) and later tests keep a working building block."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from meetkit.client import MeetingsClient

from ..support import MEDIA_ADDR, Server, create_application, media_env, media_net, start_server, stop_server

pytest.importorskip("aiortc")
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the loopback media link needs root (CI runs as root)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    media_net()
    srv = start_server("sqlite", tmp_path_factory.mktemp("synthetic"), media_env(), tls=False)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def room(server: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app_id, key = create_application(server, tmp_path_factory.mktemp("keys"))
    with MeetingsClient(server.base_url, app_id, key) as api:
        made: dict[str, Any] = api.create_room({"display_name": "synthetic", "join_approval_level": "none"})
    return made


@pytest.fixture
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [MEDIA_ADDR])


async def until(predicate: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what()}")
        await asyncio.sleep(0.05)


async def test_two_publishers_and_a_receiver_exchange_packets(server: Server, room: dict[str, Any],
                                                              loopback_ice: None) -> None:
    from ..synthetic import SyntheticPublisher, SyntheticReceiver

    base, code = server.base_url, str(room["meeting_code"])
    token = room["_links"]["host_url"]["href"].split("participant_token=")[1]
    people: list[SyntheticPublisher | SyntheticReceiver] = []
    try:
        alice = await SyntheticPublisher.join(base, code, "Alice", host_token=token, validate=True)
        people.append(alice)
        bob = await SyntheticPublisher.join(base, code, "Bob", size="640x360", validate=True)
        people.append(bob)
        assert alice.feed != bob.feed
        viewer = await SyntheticReceiver.join(base, code, "Vera", validate=True)
        people.append(viewer)
        await until(lambda: {alice.feed, bob.feed} <= set(viewer.sock.feeds.values()), 15,
                    lambda: "both feeds announced")
        await viewer.view([alice.feed, bob.feed], width=320, height=180)

        def arrived(kind: str) -> int:  # streams of this kind with packets
            return sum(1 for c in viewer.counts.values() if c.kind == kind and c.packets > 10)

        await until(lambda: arrived("video") >= 2 and arrived("audio") >= 2, 30,
                    lambda: f"audio and video of both publishers at the receiver: {viewer.counts}, {viewer.errors}, "
                    f"{viewer.offers} offers answered, {viewer.sock.invalid}")
        # The publishers hear each other (meetkit subscribes them to the others' audio).
        await until(lambda: alice.inbox.heard() >= 1 and bob.inbox.heard() >= 1, 30,
                    lambda: f"the publishers hear each other: {alice.inbox.counts}, {bob.inbox.counts}")
        assert not viewer.errors, viewer.errors
        for person in people:
            assert not person.sock.invalid, person.sock.invalid
        described = {(s["feed"], s["type"]) for s in viewer.streams.values() if s.get("feed") is not None}
        assert {(alice.feed, "video"), (bob.feed, "video")} <= described, viewer.streams
        assert viewer.heard() >= 2
        stats = await viewer.stats()
        assert stats["received"] > 0
    finally:
        for person in reversed(people):
            await asyncio.wait_for(person.leave(), 20)

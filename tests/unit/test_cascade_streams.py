"""Cascading's wire details (media/remote.py): the streams a remote publisher is made with, the mids
they get on the edge, and the subscriber's translation between the home's mids and the edge's."""

from __future__ import annotations

import asyncio
from typing import Any

from meetkit.media.janus import JsonObject
from meetkit.media.remote import edge_mids, edge_streams
from meetkit.media.subscriber import Subscriber
from meetkit.signalling.cascade import Edge

# A simulcast camera as Janus describes it in a ``publishers`` event (its mids are the browser's).
CAMERA: list[Any] = [
    {"type": "audio", "mindex": 0, "mid": "a0", "codec": "opus", "fec": True, "talking": False},
    {"type": "video", "mindex": 1, "mid": "v1", "codec": "vp8", "simulcast": True},
]


def test_streams_are_listed_by_mindex_with_the_edge_mid_their_mindex() -> None:
    assert edge_streams(list(reversed(CAMERA))) == [
        {"type": "audio", "mindex": 0, "mid": "0", "codec": "opus", "fec": True},
        {"type": "video", "mindex": 1, "mid": "1", "codec": "vp8", "simulcast": True},
    ]
    assert edge_mids(CAMERA) == {"a0": "0", "v1": "1"}


def test_a_gap_or_a_disabled_stream_keeps_its_place_disabled() -> None:
    # Janus forwards stream i with SSRC 1000 + 10·i: the edge's stream i must be the same stream.
    streams = edge_streams([{"type": "video", "mindex": 2, "mid": "2", "codec": "vp8"},
                            {"type": "audio", "mindex": 1, "mid": "1", "disabled": True}])
    assert [(s["mindex"], s["type"], bool(s.get("disabled"))) for s in streams] == [
        (0, "audio", True), (1, "audio", True), (2, "video", False)]
    assert all(s.get("codec") for s in streams)  # Janus wants a codec for every audio/video stream
    assert edge_streams([]) == [] and edge_streams([{"type": "video"}, "junk"]) == []


class _Handle:
    """A subscriber handle's Janus side, as much as the translation needs: it records what it was sent
    and answers with the m-lines Janus would describe (edge mids)."""

    closed = False

    def __init__(self) -> None:
        self.sent: list[JsonObject] = []

    async def message(self, body: JsonObject, jsep: JsonObject | None = None) -> tuple[JsonObject, JsonObject | None]:
        self.sent.append(body)
        streams = [{"mid": str(i), "type": "video", "feed_id": x["feed"], "feed_mid": x["mid"], "active": True}
                   for i, x in enumerate(body.get("streams") or body.get("subscribe") or [])]
        return {"videoroom": "attached", "streams": streams}, {"type": "offer", "sdp": "v=0"}

    async def detach(self) -> None:
        pass


def test_a_subscriber_on_an_edge_names_streams_as_the_home_does() -> None:
    edge = Edge("b", server=None)  # type: ignore[arg-type]
    edge.mids[7] = edge_mids(CAMERA)
    handle = _Handle()

    async def attach(_: Any) -> Any:
        return handle

    sub = Subscriber(attach, room=1, token="t", private_id=lambda: 1)
    sub.to_janus, sub.from_janus = edge.to_edge, edge.to_home
    asyncio.run(sub.subscribe([{"feed": 7, "mid": "v1", "substream": 0}]))
    assert handle.sent[0]["streams"] == [{"feed": 7, "mid": "1", "substream": 0}]  # the edge's mid
    assert [(s.feed, s.feed_mid) for s in sub.streams] == [(7, "v1")]  # told back in the home's
    asyncio.run(sub.switch([{"feed": 7, "mid": "a0", "sub_mid": "0"}]))
    assert handle.sent[1]["streams"] == [{"feed": 7, "mid": "0", "sub_mid": "0"}]
    assert edge.to_edge(9, "x") == "x" and edge.to_home(9, "x") == "x"  # unknown feeds pass as they are

"""Cascading a meeting over several Janus with the videoroom's *remote publishers* (Janus 1.1.2):
a feed published on the meeting's home Janus is sent as plain RTP to another Janus of the pool (an
*edge*), where it appears as a publisher with the same id that the edge's subscribers subscribe to.

What Janus does (checked here, ``shared/reference/media-plane.md`` and the 1.1.2 source):

- ``add_remote_publisher`` on the edge (room secret needed) makes a publisher without a session that
  listens on one UDP port for all its streams, told apart by SSRC: the stream at position *i* of the
  request's ``streams`` gets mid ``str(i)`` and SSRC 1000 + 10·i (+1, +2 for simulcast layers);
- ``publish_remotely`` on the home (with the admin key when ``lock_rtp_forward`` is on) forwards each
  stream of the local publisher with SSRC 1000 + 10·mindex: so the edge's streams are listed by the
  home publisher's mindex, a gap filled with a disabled stream, and the edge's mid of a stream is its
  mindex;
- a remote feed cannot be forwarded again (one hop): meetkit forwards from the home only (a star);
- the edge's remote publishers go with its room (``destroy``), and ``remove_remote_publisher`` takes
  one away; ``unpublish_remotely`` stops the home's forwarders of one remotization.
RTP between Janus instances is not encrypted in 1.1.2: the pool's Janus talk over a private network."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .janus import JanusError, JsonObject
from .videoroom import MediaServer

_DEFAULT_CODEC = {"audio": "opus", "video": "vp8"}


def edge_streams(published: list[Any]) -> list[JsonObject]:
    """The ``streams`` of ``add_remote_publisher`` for a publisher Janus described with these streams
    (its ``publishers`` event): one per mindex, in mindex order, so SSRCs match the home's forwarders."""
    by_index: dict[int, JsonObject] = {}
    for s in published:
        if isinstance(s, dict) and isinstance(s.get("mindex"), int) and s.get("type") in ("audio", "video", "data"):
            by_index[int(s["mindex"])] = s
    out: list[JsonObject] = []
    for i in range(max(by_index, default=-1) + 1):
        s = by_index.get(i)
        if s is None or s.get("disabled") or (s["type"] != "data" and not s.get("codec")):
            kind = s["type"] if s is not None else "audio"
            out.append({"type": kind, "mindex": i, "mid": str(i), "disabled": True,
                        **({"codec": _DEFAULT_CODEC[kind]} if kind in _DEFAULT_CODEC else {})})
            continue
        stream: JsonObject = {"type": s["type"], "mindex": i, "mid": str(i)}
        for key in ("codec", "simulcast", "stereo", "fec", "dtx", "description"):
            if key in s:
                stream[key] = s[key]
        out.append(stream)
    return out


def edge_mids(published: list[Any]) -> dict[str, str]:
    """The home's mid of each stream → its mid on an edge (its mindex)."""
    return {str(s["mid"]): str(s["mindex"]) for s in published
            if isinstance(s, dict) and "mid" in s and isinstance(s.get("mindex"), int)}


def media_host(server: MediaServer) -> str:
    """Where another Janus sends this one RTP: the host of its API URL (the pool's Janus are reached at
    the same address for both)."""
    return urlsplit(server.url).hostname or "127.0.0.1"


async def add_remote_publisher(edge: MediaServer, room: int, feed: int, display: str,
                               streams: list[JsonObject]) -> tuple[int, int]:
    """Make ``feed`` a publisher of ``room`` on ``edge``; returns the UDP ports it listens on for RTP and
    RTCP (the edge's keyframe requests go back through RTCP: without it a viewer joining later waits
    for the publisher's next keyframe, which a browser sends only when asked)."""
    data = await edge.room_request(room, {"request": "add_remote_publisher", "id": feed, "display": display,
                                          "streams": streams})
    port, rtcp_port = data.get("port"), data.get("rtcp_port")
    if not isinstance(port, int) or port <= 0:
        raise JanusError(0, "Janus added a remote publisher without a port")
    return port, rtcp_port if isinstance(rtcp_port, int) and rtcp_port > 0 else 0


async def remove_remote_publisher(edge: MediaServer, room: int, feed: int) -> None:
    """Idempotent: a feed already gone (or a room gone) is fine."""
    await edge.room_request(room, {"request": "remove_remote_publisher", "id": feed}, gone_ok=True)


async def publish_remotely(home: MediaServer, room: int, feed: int, remote_id: str, host: str,
                           ports: tuple[int, int]) -> None:
    """Forward ``feed``'s streams to ``host`` at the ports :func:`add_remote_publisher` gave."""
    body: JsonObject = {"request": "publish_remotely", "publisher_id": feed, "remote_id": remote_id, "host": host,
                        "port": ports[0]}
    if ports[1]:
        body["rtcp_port"] = ports[1]
    await home.room_request(room, body, admin=True)


async def unpublish_remotely(home: MediaServer, room: int, feed: int, remote_id: str) -> None:
    """Idempotent: a publisher gone (its forwarders with it) is fine."""
    await home.room_request(room, {"request": "unpublish_remotely", "publisher_id": feed, "remote_id": remote_id},
                            admin=True, gone_ok=True)

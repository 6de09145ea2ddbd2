"""Candidates a browser trickles while no Janus handle of theirs exists (media/participant.py,
media/candidates.py), with the Janus session faked at its process boundary: a failed publish's
candidates never reach the next publisher handle, and a subscriber's are dropped."""

from __future__ import annotations

from typing import Any

import pytest

from meetkit.media.janus import JanusError
from meetkit.media.participant import MediaParticipant

CANDIDATE = {"candidate": "candidate:1 1 udp 2122194687 127.0.0.1 48808 typ host", "sdpMid": "0",
             "sdpMLineIndex": 0}
LATE = {**CANDIDATE, "candidate": "candidate:2 1 udp 2122194687 127.0.0.1 48809 typ host"}


class FakeHandle:
    def __init__(self, session: FakeSession) -> None:
        self.session = session
        self.trickled: list[dict[str, Any] | None] = []
        self.closed = False

    async def message(self, body: dict[str, Any], jsep: dict[str, Any] | None = None,
                      **_: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
        if body["request"] == "configure" and self.session.refuse:
            raise JanusError(465, "SDP error")
        if jsep is not None:
            return {"videoroom": "event", "configured": "ok"}, {"type": "answer", "sdp": "v=0\r\n(answer)"}
        return {"videoroom": "joined"}, None

    async def trickle(self, candidate: dict[str, Any] | None, **_: Any) -> None:
        self.trickled.append(candidate)

    async def detach(self) -> None:
        self.closed = True


class FakeSession:
    def __init__(self) -> None:
        self.handles: list[FakeHandle] = []
        self.refuse = False
        self.closed = False

    async def attach(self, plugin: str, **_: Any) -> FakeHandle:
        handle = FakeHandle(self)
        self.handles.append(handle)
        return handle

    async def destroy(self) -> None:
        self.closed = True


def _participant(session: FakeSession) -> MediaParticipant:
    return MediaParticipant(server=None, room=1234, token="t", session=session, on_event=None)  # type: ignore[arg-type]


async def test_a_failed_publishs_candidates_never_reach_the_next_publisher() -> None:
    session = FakeSession()
    media = _participant(session)
    await media.trickle("camera", CANDIDATE)  # before any publish: kept
    session.refuse = True
    with pytest.raises(JanusError):
        await media.publish("camera", 7, "Gus", "v=0\r\n", trickle=True)
    await media.trickle("camera", LATE)  # a straggler of the refused connection
    session.refuse = False
    await media.publish("camera", 7, "Gus", "v=0\r\n", trickle=True)
    refused, live = session.handles
    assert refused.closed and refused.trickled == []
    assert live.trickled == []  # neither the early one nor the straggler: both were for other connections
    await media.trickle("camera", CANDIDATE)
    assert live.trickled == [CANDIDATE]


async def test_a_subscriber_candidate_without_a_subscriber_handle_is_dropped() -> None:
    session = FakeSession()
    media = _participant(session)
    await media.trickle("subscriber", CANDIDATE)  # for a connection whose handle is gone
    await media.trickle("subscriber", None)
    handle = FakeHandle(session)
    await media.flush_candidates("subscriber", handle)
    assert handle.trickled == []
    media.subscriber.handle = handle  # type: ignore[assignment]
    await media.trickle("subscriber", LATE)
    assert handle.trickled == [LATE]

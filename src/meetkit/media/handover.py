"""A participant's media carried from one meetkit to another without the browser noticing
(issue 12, failover: docs/scale-out.md "Media through a failover").

Janus keeps the sessions of a connection that dropped for ``reclaim_session_timeout`` seconds, their
PeerConnections and media included; another connection may ``claim`` them meanwhile. What it needs to
go on using them is a :class:`MediaCard`: the session, its handles and what each carries. The owner of
a meeting keeps its participants' cards where the next owner can read them (cluster/media_cards.py);
the next owner claims each session (``MediaServer.claim_participant``) instead of opening new media."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MediaCard:
    session: int
    presence: int  # the presence's handle id
    presence_id: int  # the presence's id in the room
    private_id: int
    publishers: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind → (handle id, feed)
    subscriber: int | None = None  # handle id
    streams: list[dict[str, Any]] = field(default_factory=list)  # the subscriber's m-lines (SubscribedStream)

    def to_json(self) -> dict[str, Any]:
        return {"session": self.session, "presence": self.presence, "presence_id": self.presence_id,
                "private_id": self.private_id, "publishers": {k: list(v) for k, v in self.publishers.items()},
                "subscriber": self.subscriber, "streams": self.streams}

    @classmethod
    def of(cls, raw: Any) -> MediaCard | None:
        """Read back; None for anything that is not a card (another version's, or damaged)."""
        if not isinstance(raw, dict):
            return None
        try:
            publishers = {str(k): (int(v[0]), int(v[1])) for k, v in (raw.get("publishers") or {}).items()
                          if k in ("camera", "screen")}
            sub = raw.get("subscriber")
            streams = raw.get("streams") or []
            return cls(session=int(raw["session"]), presence=int(raw["presence"]),
                       presence_id=int(raw["presence_id"]), private_id=int(raw["private_id"]),
                       publishers=publishers, subscriber=int(sub) if sub is not None else None,
                       streams=[x for x in streams if isinstance(x, dict)])
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            return None

"""One participant's subscription: a single multistream Janus subscriber handle carrying every stream
its page receives (:class:`Subscriber`, ``MediaParticipant.subscriber``).

What Janus 1.1.2 does with it (checked with aiortc peers, see docs/media.md "One subscriber"):

- the first ``join`` (ptype subscriber, ``streams: [{feed, mid?}]``) attaches the handle and comes
  with an offer; ``start`` with the page's answer starts the media;
- ``update`` with ``subscribe`` / ``unsubscribe`` lists renegotiates: Janus answers ``updated`` with a
  new offer, or ``updating`` without one when it queued the update (the PC not up yet, or another
  renegotiation under way): the offer then comes as an unasked ``updated`` event; ``updated``
  without an offer means nothing changed. An unsubscribed m-line stays in the SDP as inactive, and a
  later subscription of the same type reuses it (even within the same update);
- a publisher that goes away makes Janus renegotiate on its own: an unasked ``updated`` event with
  an offer (given to ``on_offer``);
- ``switch`` re-points m-lines to other feeds' streams without renegotiation (and resets a video
  stream's simulcast choice: configure it again);
- ``configure`` with ``streams: [{mid, substream, temporal, fallback}]`` picks simulcast layers;
  with ``restart: true`` it yields an ICE-restart offer;
- when it starts relaying another simulcast layer on an m-line (the first one included), Janus says
  so in an unasked event ``{mid, substream}`` (given to ``on_substream``);
- one (feed, mid) may be subscribed twice on one handle: meetkit keeps that from happening.

Janus's ``streams`` list in each answer is the truth about the m-lines; :attr:`Subscriber.streams` is
the last one seen. Requests are serialized here; *when* to renegotiate (one offer outstanding) is
decided by the caller (signalling/subscriptions.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from .janus import JanusError, JanusHandle, JsonObject

Attach = Callable[[Callable[[JanusHandle, JsonObject], None]], Awaitable[JanusHandle]]
MidMap = Callable[[int, str], str]  # (feed, mid) → the same stream's mid in the other naming
OfferCallback = Callable[[str], None]
OFFER_TIMEOUT = 10.0  # how long a queued update's offer may take


@dataclass(frozen=True)
class SubscribedStream:
    """One m-line of the subscriber PC as Janus described it. ``feed``/``feed_mid`` are None when the
    m-line is inactive (unsubscribed, or its publisher left)."""

    mid: str
    type: str
    feed: int | None
    feed_mid: str | None
    active: bool

    @classmethod
    def of(cls, raw: Any) -> SubscribedStream | None:
        if not isinstance(raw, dict) or "mid" not in raw or raw.get("type") not in ("audio", "video", "data"):
            return None
        active = bool(raw.get("active", True)) and raw.get("feed_id") is not None
        feed = raw.get("feed_id")
        return cls(mid=str(raw["mid"]), type=str(raw["type"]), feed=int(feed) if active and feed is not None else None,
                   feed_mid=str(raw["feed_mid"]) if active and raw.get("feed_mid") is not None else None,
                   active=active)

    @classmethod
    def of_card(cls, raw: Any) -> SubscribedStream | None:
        """One of ``dataclasses.asdict(stream)``'s, read back (media/handover.py)."""
        if not isinstance(raw, dict) or not isinstance(raw.get("mid"), str) or not isinstance(raw.get("type"), str):
            return None
        feed, feed_mid = raw.get("feed"), raw.get("feed_mid")
        return cls(mid=raw["mid"], type=raw["type"], feed=feed if isinstance(feed, int) else None,
                   feed_mid=feed_mid if isinstance(feed_mid, str) else None, active=bool(raw.get("active")))


def parse_streams(data: JsonObject) -> list[SubscribedStream] | None:
    raw = data.get("streams")
    if not isinstance(raw, list):
        return None
    return [s for s in (SubscribedStream.of(x) for x in raw) if s is not None]


class Subscriber:
    """The participant's one subscriber handle (made on the first :meth:`subscribe`)."""

    def __init__(self, attach: Attach, room: int, token: str, private_id: Callable[[], int]) -> None:
        self._attach = attach
        self.room = room
        self._token = token
        self._private_id = private_id
        self.handle: JanusHandle | None = None
        """The Janus handle, or None before the first subscription (and after :meth:`close`)."""
        self.streams: list[SubscribedStream] = []
        self.on_offer: OfferCallback | None = None
        """Called with the SDP of an offer Janus made unasked (a subscribed publisher left)."""
        self.on_hangup: Callable[[], None] | None = None
        """Called when Janus closed the handle's PeerConnection (ICE failed, DTLS alert)."""
        self.on_substream: Callable[[str, int], None] | None = None
        """Called with (mid, substream) when Janus starts relaying another simulcast layer on an m-line."""
        self.to_janus: MidMap | None = None
        """On a cascade's edge Janus (signalling/cascade.py), a feed's streams have other mids than on
        its home Janus: meetkit names them as the home does, and these translate them both ways."""
        self.from_janus: MidMap | None = None
        self._lock = asyncio.Lock()
        self._queued: asyncio.Future[str] | None = None  # the offer of an update Janus queued

    @property
    def active(self) -> list[SubscribedStream]:
        return [s for s in self.streams if s.active]

    async def subscribe(self, streams: list[JsonObject]) -> str | None:
        """Add ``streams`` (``{feed, mid}``); the first call joins. Returns Janus's offer."""
        return await self.update(streams, [])

    async def update(self, subscribe: list[JsonObject], unsubscribe: list[JsonObject]) -> str | None:
        """One renegotiation: add and remove streams (``unsubscribe`` items: ``{sub_mid}`` or
        ``{feed, mid}``). Returns Janus's offer, to be answered with :meth:`start`, or None when Janus
        had nothing to renegotiate (or sends its offer later, to ``on_offer``)."""
        subscribe, unsubscribe = self._out(subscribe), self._out(unsubscribe)
        async with self._lock:
            if self.handle is None or self.handle.closed:
                if not subscribe:
                    raise JanusError(0, "nothing to subscribe to")
                handle = await self._attach(self.heard)
                body: JsonObject = {"request": "join", "ptype": "subscriber", "room": self.room, "streams": subscribe,
                                    "private_id": self._private_id(), "token": self._token}
                try:
                    data, jsep = await handle.message(body)
                except BaseException:
                    await handle.detach()
                    raise
                self.handle = handle
            else:
                body = {"request": "update"}
                if subscribe:
                    body["subscribe"] = subscribe
                if unsubscribe:
                    body["unsubscribe"] = unsubscribe
                self._queued = asyncio.get_running_loop().create_future()
                try:
                    data, jsep = await self.handle.message(body)
                    if data.get("videoroom") == "updating":
                        # Janus queued the update (the PC is still being set up or renegotiated):
                        # its offer comes later, as an unasked ``updated`` event.
                        async with asyncio.timeout(OFFER_TIMEOUT):
                            return await self._queued
                finally:
                    self._queued = None
            self._learn(data)
            if jsep is None or jsep.get("type") != "offer":
                return None  # nothing changed (e.g. the stream had already gone inactive)
            return str(jsep["sdp"])

    async def start(self, sdp_answer: str, *, trickle: bool = False) -> None:
        """Give Janus the page's answer to the last offer (``trickle``: its candidates follow)."""
        async with self._lock:
            handle = self._live()
            await handle.message({"request": "start"}, {"type": "answer", "sdp": sdp_answer, "trickle": trickle})

    async def switch(self, changes: list[JsonObject]) -> None:
        """Re-point m-lines (``{feed, mid, sub_mid}``) without renegotiation."""
        async with self._lock:
            data, _ = await self._live().message({"request": "switch", "streams": self._out(changes)})
            self._learn(data)

    async def configure(self, streams: list[JsonObject]) -> None:
        """Per-m-line options (``{mid, substream, temporal, fallback}`` for simulcast layers)."""
        async with self._lock:
            await self._live().message({"request": "configure", "streams": streams})

    async def restart(self) -> str:
        """An ICE-restart offer for the subscriber PC."""
        async with self._lock:
            _, jsep = await self._live().message({"request": "configure", "restart": True})
            if jsep is None or jsep.get("type") != "offer":
                raise JanusError(0, "Janus restarted ICE without an SDP offer")
            return str(jsep["sdp"])

    def claimed(self, handle: JanusHandle, streams: list[SubscribedStream]) -> None:
        """The handle of a claimed session (media/handover.py), with the m-lines it had."""
        self.handle, self.streams = handle, streams

    async def close(self) -> None:
        handle, self.handle = self.handle, None
        self.streams = []
        if handle is not None:
            await handle.detach()

    # -- internals ----------------------------------------------------------------------------------

    def _live(self) -> JanusHandle:
        if self.handle is None or self.handle.closed:
            raise JanusError(0, "no subscription")
        return self.handle

    def _out(self, items: list[JsonObject]) -> list[JsonObject]:
        """Items naming a feed's stream (``feed`` and ``mid``) with the mid this Janus knows."""
        to = self.to_janus
        if to is None:
            return items
        return [{**x, "mid": to(x["feed"], str(x["mid"]))} if "feed" in x and "mid" in x else x for x in items]

    def _learn(self, data: JsonObject) -> None:
        streams = parse_streams(data)
        if streams is None:
            return
        back = self.from_janus
        if back is not None:
            streams = [replace(s, feed_mid=back(s.feed, s.feed_mid)) if s.feed is not None and s.feed_mid is not None
                       else s for s in streams]
        self.streams = streams

    def heard(self, handle: JanusHandle, message: JsonObject) -> None:
        """Unasked events of the handle: an ``updated`` with an offer is Janus renegotiating; a
        ``hangup`` is the PeerConnection gone (the handle stays, but needs a new one)."""
        if handle is not self.handle:
            return
        if message.get("janus") == "hangup" and self.on_hangup is not None:
            self.on_hangup()
            return
        if message.get("janus") != "event":
            return
        data = (message.get("plugindata") or {}).get("data") or {}
        substream, mid = data.get("substream"), data.get("mid")
        if isinstance(substream, int) and isinstance(mid, str) and self.on_substream is not None:
            self.on_substream(mid, substream)
            return
        self._learn(data)
        jsep = message.get("jsep")
        if not isinstance(jsep, dict) or jsep.get("type") != "offer":
            return
        if self._queued is not None and not self._queued.done():
            self._queued.set_result(str(jsep["sdp"]))
        elif self.on_offer is not None:
            self.on_offer(str(jsep["sdp"]))

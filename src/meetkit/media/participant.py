"""One participant's media in a Janus videoroom: :class:`MediaParticipant`, in its own Janus session, with
one publisher handle per kind (camera, screen), one multistream subscriber handle for everything it
receives (:attr:`MediaParticipant.subscriber`, media/subscriber.py), and a
silent *presence* that holds its place in the room. Made by
:meth:`meetkit.media.videoroom.MediaServer.open_participant`; what Janus says unasked about its
handles reaches ``on_event`` as a :class:`MediaEvent`. See :mod:`meetkit.media.videoroom` for who may
enter. A browser's offer may come without candidates (``trickle``): they follow through
:meth:`MediaParticipant.trickle`, and an ICE restart is a new offer on the live publisher handle
(:meth:`MediaParticipant.renegotiate`), so the feed stays the same.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from .candidates import EarlyCandidates
from .codes import ID_EXISTS, NO_SUCH_FEED, PLUGIN
from .handover import MediaCard
from .janus import JanusError, JanusHandle, JanusSession, JsonObject
from .janus_session import EventCallback
from .sdp import has_simulcast
from .subscriber import SubscribedStream, Subscriber

if TYPE_CHECKING:
    from .videoroom import MediaServer

MediaKind = Literal["camera", "screen"]
KINDS: tuple[MediaKind, ...] = ("camera", "screen")
CandidateTarget = Literal["camera", "screen", "subscriber"]

log = logging.getLogger("meetkit.media.janus")


@dataclass(frozen=True)
class MediaEvent:
    """Something Janus said about one of a participant's handles, unasked.

    ``type`` is the Janus message (``webrtcup``, ``media``, ``slowlink``, ``hangup``, ``detached``),
    ``kicked`` / ``room_destroyed`` for those videoroom events, ``event`` for other plugin events,
    ``trickle`` for a candidate of Janus's own (``data["candidate"]``), or
    ``closed`` when the connection to Janus was lost. ``role`` names the handle: ``camera``,
    ``screen``, ``subscriber`` (``feed`` None: the one handle carries many feeds) or ``presence``.
    """

    type: str
    role: str
    feed: int | None
    data: JsonObject


MediaEventCallback = Callable[[MediaEvent], None]
KEYFRAME_ASKS_S = (1.0, 2.0)  # after a recording starts: the waits before each extra keyframe request


class MediaParticipant:
    """One participant's media handles, in one Janus session. Made by :meth:`MediaServer.open_participant`."""

    def __init__(
        self,
        server: MediaServer,
        room: int,
        token: str,
        session: JanusSession,
        on_event: MediaEventCallback | None,
    ) -> None:
        self.server = server
        self.room = room
        self.token = token
        self.on_event = on_event
        self._session = session
        self._presence: JanusHandle | None = None
        self._private_id = 0
        self.presence_id = 0
        """Janus id of the participant's presence in the room: kick it to cut its subscriptions too."""
        self.publishers_at_join: list[JsonObject] = []
        """The room's publishers (with their ``streams``) when the presence joined."""
        self._publishers: dict[str, tuple[JanusHandle, int]] = {}
        self._live: dict[str, asyncio.Event] = {}
        self.subscriber = Subscriber(self._attach_subscriber, room, token, lambda: self._private_id)
        """Everything this participant receives, on one multistream handle (media/subscriber.py)."""
        self._recordings: dict[str, str] = {}
        self._keyframe_asks: set[asyncio.Task[None]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._early_candidates = EarlyCandidates()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed or self._session.closed

    @property
    def feeds(self) -> dict[str, int]:
        """The feeds this participant publishes, by kind."""
        return {kind: feed for kind, (_, feed) in self._publishers.items()}

    @property
    def recordings(self) -> dict[str, str]:
        """The publishers being recorded, by kind: the file base given to :meth:`record`."""
        return dict(self._recordings)

    @property
    def subscriptions(self) -> list[int]:
        """The feeds this participant receives something of."""
        return sorted({s.feed for s in self.subscriber.active if s.feed is not None})

    async def _enter(self) -> None:
        handle = await self._attach("presence", None)
        data, _ = await handle.message(
            {"request": "join", "ptype": "publisher", "room": self.room, "token": self.token}
        )
        self._presence = handle
        self.presence_id = int(data["id"])
        found = data.get("publishers")
        self.publishers_at_join = list(found) if isinstance(found, list) else []
        self._private_id = int(data["private_id"])

    async def publish(self, kind: str, feed: int, display: str, sdp_offer: str, *, trickle: bool = False) -> str:
        """Publish ``kind`` as Janus participant ``feed``; returns Janus's SDP answer.

        A second publish of the same kind replaces the first (the browser made a new PeerConnection).
        ``trickle``: the offer may lack candidates; they come through :meth:`trickle`.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown media kind {kind!r}")
        async with self._lock(kind):
            await self._unpublish(kind)  # forgets the candidates kept for the previous connection
            self._live[kind] = asyncio.Event()
            handle = await self._attach(kind, feed)
            try:
                await self._join_as(handle, feed, display)
                answer = await _configure(handle, sdp_offer, trickle)
            except BaseException:
                self._early_candidates.forget(kind)  # the browser's connection of this attempt is gone
                await handle.detach()
                raise
            self._publishers[kind] = (handle, feed)
            await self.flush_candidates(kind, handle)
            return answer

    async def renegotiate(self, kind: str, sdp_offer: str, *, trickle: bool = False) -> str:
        """A new offer for the live ``kind`` publisher, on the same handle (so the same feed, and nobody's
        subscription changes): how a browser restarts ICE (its offer has a new ufrag, and Janus
        restarts its side). Returns Janus's answer; raises :class:`JanusError` when ``kind`` is not
        being published."""
        async with self._lock(kind):
            entry = self._publishers.get(kind)
            if entry is None:
                raise JanusError(NO_SUCH_FEED, f"not publishing {kind}")
            handle, _ = entry
            answer = await _configure(handle, sdp_offer, trickle)
            await self.flush_candidates(kind, handle)
            return answer

    async def trickle(self, target: CandidateTarget, candidate: JsonObject | None) -> None:
        """A browser's trickled candidate (``None``: its gathering completed) for the camera or screen
        publisher, or for the subscriber (``self.subscriber.handle``). A publisher's is kept, a few at
        most, until that publisher's handle exists. A subscriber's without a handle is dropped: the page
        trickles only after answering an offer, and the handle exists from the join that made the
        offer, so such a candidate is for a connection whose handle is gone (closed, or replaced)."""
        if target == "subscriber":
            handle = getattr(getattr(self, "subscriber", None), "handle", None)
            if handle is None:
                log.debug("dropping a subscriber candidate: no subscriber handle")
            else:
                await handle.trickle(candidate)
            return
        async with self._lock(target):  # after a publish under way, whose handle it is for
            entry = self._publishers.get(target)
            if entry is None:
                self._early_candidates.keep(target, candidate)
            else:
                await entry[0].trickle(candidate)

    async def flush_candidates(self, target: str, handle: JanusHandle) -> None:
        """Give ``handle`` the candidates that came for ``target`` before it existed."""
        for candidate in self._early_candidates.take(target):
            await handle.trickle(candidate)

    async def _join_as(self, handle: JanusHandle, feed: int, display: str) -> None:
        body: JsonObject = {
            "request": "join", "ptype": "publisher", "room": self.room, "id": feed, "display": display,
            "token": self.token,
        }
        # A feed id freed by a detach a moment ago may still be held while Janus tears the old
        # publisher down: retry briefly rather than fail a camera restart.
        for attempt in range(10):
            try:
                await handle.message(body)
                return
            except JanusError as exc:
                if exc.code != ID_EXISTS or attempt == 9:
                    raise
                await asyncio.sleep(0.1)

    async def wait_live(self, kind: str, time_limit: float = 10.0) -> None:
        """Wait until the ``kind`` publisher's PeerConnection is up (Janus ``webrtcup``).

        Only then can others subscribe to its feed: before, Janus answers 428 (no such feed). So
        meetkit announces a feed to the room after this returns. Raises ``TimeoutError``.
        """
        live = self._live.get(kind)
        if live is None or kind not in self._publishers:
            raise JanusError(NO_SUCH_FEED, f"not publishing {kind}")
        async with asyncio.timeout(time_limit):
            await live.wait()

    async def unpublish(self, kind: str) -> None:
        """Stop publishing ``kind``. Idempotent."""
        async with self._lock(kind):
            await self._unpublish(kind)

    async def _unpublish(self, kind: str) -> None:
        entry = self._publishers.pop(kind, None)
        self._live.pop(kind, None)
        self._early_candidates.forget(kind)  # they were for the browser's previous connection
        # Janus closes the recording files with the publisher.
        self._recordings.pop(kind, None)
        if entry is not None:
            await entry[0].detach()

    async def record(self, kind: str, filename: str | None) -> None:
        """Start (``filename``) or stop (``None``) recording the ``kind`` publisher. Idempotent.

        ``filename`` is an absolute path without extension; Janus writes one file per track,
        ``<filename>-<audio|video|data>-<mindex>.mjr`` (e.g. ``-audio-0.mjr``, ``-video-1.mjr``), and
        closes them on stop, on unpublish and when the PeerConnection goes away. Recording again with
        another ``filename`` closes the current files first (Janus only reads the name when it opens
        them). Nothing happens if ``kind`` is not being published. Rooms have ``lock_record``, so the
        request carries the room secret.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown media kind {kind!r}")
        base = None if filename is None else self._recording_base(filename)
        async with self._lock(kind):
            entry = self._publishers.get(kind)
            if entry is None or self._recordings.get(kind) == filename:
                return
            handle, _ = entry
            secret = self.server._room_secret(self.room)
            if kind in self._recordings:
                await handle.message({"request": "configure", "record": False, "secret": secret})
                del self._recordings[kind]
            if filename is not None:
                await handle.message({"request": "configure", "record": True, "filename": base, "secret": secret})
                self._recordings[kind] = filename
                task = asyncio.create_task(self._ask_keyframes(kind, filename), name="recording-keyframes")
                self._keyframe_asks.add(task)
                task.add_done_callback(self._keyframe_asks.discard)

    async def _ask_keyframes(self, kind: str, filename: str) -> None:
        """A recording's video starts at a keyframe. Janus asks the browser for one when recording starts,
        but a browser drops a keyframe request that follows another closely (libwebrtc throttles them),
        and VP8 sends no keyframe unasked: without these, a recording could hold no frame of someone's
        camera. Asked twice more, while this recording goes on; a failure costs nothing but the ask."""
        for delay in KEYFRAME_ASKS_S:
            await asyncio.sleep(delay)
            entry = self._publishers.get(kind)
            if entry is None or self._recordings.get(kind) != filename or self.closed:
                return
            try:
                await entry[0].message({"request": "configure", "keyframe": True})
            except JanusError:  # (its timeout included)
                return

    def _recording_base(self, filename: str) -> str:
        path = PurePosixPath(filename)
        if not path.is_absolute():
            raise ValueError(f"recording file base must be an absolute path: {filename!r}")
        # Janus writes to "<room rec_dir>/<filename>.mjr" when the room has a rec_dir: the name must then
        # be relative to it.
        spec = self.server._rooms.get(self.room)
        if spec is None or spec.rec_dir is None:
            return filename
        try:
            return str(path.relative_to(spec.rec_dir))
        except ValueError:
            raise ValueError(f"{filename!r} is outside the room's recording folder {spec.rec_dir!r}") from None

    async def close(self) -> None:
        """Detach every handle and destroy the Janus session. Idempotent; safe after Janus is gone."""
        if self._closed:
            return
        self._closed = True
        for task in self._keyframe_asks:
            task.cancel()
        handles = [h for h, _ in self._publishers.values()]
        await self.subscriber.close()
        if self._presence is not None:
            handles.append(self._presence)
        self._publishers.clear()
        self._recordings.clear()
        self._presence = None
        for handle in handles:
            await handle.detach()
        await self._session.destroy()

    def let_go(self) -> None:
        """This meetkit no longer serves the participant, and another may claim its session: forget it
        here, asking Janus nothing (closing would end the media the other carries on)."""
        self._closed = True
        for task in self._keyframe_asks:
            task.cancel()
        self._session.let_go()

    # -- internals ----------------------------------------------------------------------------------

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def _attach_subscriber(self, heard: EventCallback) -> JanusHandle:
        return await self._attach("subscriber", None, heard)

    async def _attach(self, role: str, feed: int | None, heard: EventCallback | None = None) -> JanusHandle:
        on_event, on_closed = self._callbacks(role, feed, heard)
        return await self._session.attach(PLUGIN, on_event=on_event, on_closed=on_closed)

    def _callbacks(self, role: str, feed: int | None,
                   heard: EventCallback | None = None) -> tuple[EventCallback, Callable[[JanusHandle], None]]:
        live = self._live.get(role)

        def on_event(handle: JanusHandle, message: JsonObject) -> None:
            if heard is not None:
                heard(handle, message)
            type_ = _event_type(message)
            if type_ == "webrtcup" and live is not None:
                live.set()
            self._emit(type_, role, feed, message)

        def on_closed(_: JanusHandle) -> None:
            self._emit("closed", role, feed, {})

        return on_event, on_closed

    def card(self) -> MediaCard:
        """What another meetkit needs to carry this media on (media/handover.py)."""
        sub = self.subscriber.handle
        return MediaCard(
            session=self._session.id, presence=self._presence.id if self._presence is not None else 0,
            presence_id=self.presence_id, private_id=self._private_id,
            publishers={kind: (handle.id, feed) for kind, (handle, feed) in self._publishers.items()},
            subscriber=sub.id if sub is not None and not sub.closed else None,
            streams=[asdict(x) for x in self.subscriber.streams])

    def _claimed(self, card: MediaCard) -> None:
        """Take the handles of a claimed session as this participant's (``MediaServer.claim_participant``)."""
        self._presence = self._session.adopt(card.presence, PLUGIN, **_kw(self._callbacks("presence", None)))
        self.presence_id, self._private_id = card.presence_id, card.private_id
        for kind, (handle_id, feed) in card.publishers.items():
            live = self._live[kind] = asyncio.Event()
            live.set()  # it was live: others subscribe to it
            self._publishers[kind] = (self._session.adopt(handle_id, PLUGIN, **_kw(self._callbacks(kind, feed))), feed)
        if card.subscriber is not None:
            self.subscriber.claimed(self._session.adopt(
                card.subscriber, PLUGIN, **_kw(self._callbacks("subscriber", None, self.subscriber.heard))),
                [s for s in (SubscribedStream.of_card(x) for x in card.streams) if s is not None])

    def _emit(self, type_: str, role: str, feed: int | None, data: JsonObject) -> None:
        if self.on_event is not None:
            self.on_event(MediaEvent(type_, role, feed, data))


async def _configure(handle: JanusHandle, sdp_offer: str, trickle: bool) -> str:
    """Give a publisher handle the browser's offer; returns Janus's answer. Rids are listed highest
    first in the browser's ``sendEncodings`` (h, m, l), which Janus is told (``rid_order``)."""
    jsep: JsonObject = {"type": "offer", "sdp": sdp_offer, "trickle": trickle}
    if has_simulcast(sdp_offer):
        jsep["rid_order"] = "hml"
    _, answer = await handle.message({"request": "configure"}, jsep)
    if answer is None or answer.get("type") != "answer":
        raise JanusError(0, "Janus configured the publisher without an SDP answer")
    return str(answer["sdp"])


def _kw(callbacks: tuple[EventCallback, Callable[[JanusHandle], None]]) -> dict[str, Any]:
    return {"on_event": callbacks[0], "on_closed": callbacks[1]}


def _event_type(message: JsonObject) -> str:
    kind = str(message.get("janus", ""))
    if kind != "event":
        return kind
    data: Any = (message.get("plugindata") or {}).get("data") or {}
    if data.get("reason") == "kicked":
        return "kicked"
    if data.get("videoroom") == "destroyed":
        return "room_destroyed"
    return "event"

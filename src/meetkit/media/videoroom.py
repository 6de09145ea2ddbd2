"""meetkit's media rooms on one Janus, through the videoroom plugin.

This and :mod:`meetkit.media.janus` are the only modules that know Janus. The rest of meetkit sees:

- :class:`MediaServer`: rooms (create, destroy, who may join, kick, recording) over one admin handle,
  and :meth:`MediaServer.open_participant`;
- :class:`MediaParticipant`: one participant's media, in its own Janus session: one publisher handle per
  kind (camera, screen) and one subscriber handle per feed it watches. SDP goes through meetkit: the
  browser never talks to Janus.

Who may enter is decided by meetkit and enforced twice in Janus (see docs/media.md):

- rooms are created with ``allowed: []``: a publisher ``join`` must carry a token meetkit added with
  :meth:`MediaServer.allow` (else error 433). Each participant first joins as a publisher that sends
  nothing (its *presence*), which checks the token and yields a ``private_id``;
- Janus 1.1 does not check tokens on subscriber joins, so rooms also have ``require_pvtid``: a
  subscription must name the ``private_id`` of a participant present in the room (else 433), and
  kicking that participant cuts its subscriptions' media as well.

Offers and answers are exchanged without trickle: browsers send SDP after ICE gathering completed
(``"trickle": false`` in the JSEP tells Janus so), and Janus, which is not in full-trickle mode, puts
its own candidates in its SDP.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal

from .janus import JanusClient, JanusClosedError, JanusError, JanusHandle, JanusSession, JsonObject

log = logging.getLogger("meetkit.media")

PLUGIN = "janus.plugin.videoroom"

# videoroom error codes meetkit reacts to
NO_SUCH_ROOM = 426
ROOM_EXISTS = 427
NO_SUCH_FEED = 428
PUBLISHERS_FULL = 432
UNAUTHORIZED = 433
ID_EXISTS = 436

MediaKind = Literal["camera", "screen"]
KINDS: tuple[MediaKind, ...] = ("camera", "screen")

RestartCallback = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class MediaEvent:
    """Something Janus said about one of a participant's handles, unasked.

    ``type`` is the Janus message (``webrtcup``, ``media``, ``slowlink``, ``hangup``, ``detached``),
    ``kicked`` / ``room_destroyed`` for those videoroom events, ``event`` for other plugin events, or
    ``closed`` when the connection to Janus was lost. ``role`` names the handle: ``camera``,
    ``screen``, ``subscriber`` (then ``feed`` is the feed watched) or ``presence``.
    """

    type: str
    role: str
    feed: int | None
    data: JsonObject


MediaEventCallback = Callable[[MediaEvent], None]


@dataclass
class _Room:
    room: int
    publishers: int
    record: bool
    rec_dir: str | None
    description: str
    secret: str
    tokens: set[str] = field(default_factory=set)


class MediaServer:
    """One Janus, as meetkit uses it. ``start()`` connects; the connection is watched and re-made.

    When the connection to Janus is lost (Janus restarted, or the socket broke), every participant's
    session is gone with it. The server reconnects with capped backoff, re-creates the rooms it knows
    (with their allowed tokens), then awaits the callbacks registered with :meth:`on_restart`: meetkit
    uses them to tell browsers ``media.reset`` and re-open participants.
    """

    def __init__(
        self,
        url: str,
        *,
        admin_key: str | None,
        api_secret: str | None,
        timeout: float = 10.0,
        reconnect_min: float = 0.2,
        reconnect_max: float = 5.0,
    ) -> None:
        self.url = url
        self._admin_key = admin_key
        self._api_secret = api_secret
        self._timeout = timeout
        self._reconnect_min = reconnect_min
        self._reconnect_max = reconnect_max
        # Room secrets are derived, not stored: a restarted meetkit can still manage (destroy, allow,
        # kick) rooms that outlived it in an external Janus. The admin_key is itself a random secret.
        self._secret_seed = admin_key.encode() if admin_key else secrets.token_bytes(32)
        self._rooms: dict[int, _Room] = {}
        self._client: JanusClient | None = None
        self._admin: JanusHandle | None = None
        self._restart_callbacks: list[RestartCallback] = []
        self._watcher: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._stopping = False
        self.restarts = 0

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (raises :class:`JanusError` if Janus cannot be reached) and start watching."""
        self._stopping = False
        await self._connect()
        self._watcher = asyncio.create_task(self._watch(), name="media-server-watch")

    async def stop(self) -> None:
        self._stopping = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self._client is not None:
            await self._client.close()
        self._client = None
        self._admin = None
        self._connected.clear()

    @property
    def connected(self) -> bool:
        return self._client is not None and not self._client.closed

    async def wait_connected(self, time_limit: float) -> None:
        async with asyncio.timeout(time_limit):
            await self._connected.wait()

    def on_restart(self, callback: RestartCallback) -> None:
        """Await ``callback()`` after every reconnection (rooms already re-created). Failures are logged."""
        self._restart_callbacks.append(callback)

    async def _connect(self) -> None:
        client = await JanusClient.connect(self.url, api_secret=self._api_secret, time_limit=self._timeout)
        try:
            session = await client.create_session()
            admin = await session.attach(PLUGIN)
        except BaseException:
            await client.close()
            raise
        self._client, self._admin = client, admin
        self._connected.set()

    async def _watch(self) -> None:
        while not self._stopping:
            client = self._client
            if client is not None:
                await client.wait_closed()
            if self._stopping:
                return
            self._connected.clear()
            log.warning("connection to Janus at %s lost; reconnecting", self.url)
            delay = self._reconnect_min
            while not self._stopping:
                try:
                    await self._connect()
                    break
                except JanusError as exc:
                    log.info("Janus not reachable yet (%s); retrying in %.1f s", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._reconnect_max)
            self.restarts += 1
            await self._restore_rooms()
            for callback in list(self._restart_callbacks):
                try:
                    await callback()
                except Exception:
                    log.exception("a media restart callback failed")

    async def _restore_rooms(self) -> None:
        for spec in list(self._rooms.values()):
            try:
                await self._create(spec)
                if spec.tokens:
                    await self._allowed(spec, "add", sorted(spec.tokens))
            except JanusError:
                log.exception("re-creating media room %s failed", spec.room)

    # -- rooms --------------------------------------------------------------------------------------

    def _room_secret(self, room: int) -> str:
        return hmac.new(self._secret_seed, f"videoroom:{room}".encode(), hashlib.sha256).hexdigest()

    def _handle(self) -> JanusHandle:
        if self._admin is None or self._admin.closed:
            raise JanusClosedError("not connected to Janus")
        return self._admin

    async def create_room(
        self,
        room: int,
        *,
        publishers: int,
        record: bool = False,
        rec_dir: str | None = None,
        description: str = "",
    ) -> None:
        """Create the Janus room, locked to tokens added by :meth:`allow`. Idempotent."""
        existing = self._rooms.get(room)
        spec = _Room(room, publishers, record, rec_dir, description, self._room_secret(room))
        if existing is not None:
            spec.tokens = existing.tokens
        # Recorded first: if Janus is unreachable now, the room is created when the connection is back.
        self._rooms[room] = spec
        try:
            await self._create(spec)
        except JanusClosedError:
            raise
        except JanusError:
            if existing is None:
                del self._rooms[room]
            else:
                self._rooms[room] = existing
            raise

    async def _create(self, spec: _Room) -> None:
        body: JsonObject = {
            "request": "create",
            "room": spec.room,
            "permanent": False,
            "description": spec.description or f"room {spec.room}",
            "secret": spec.secret,
            "is_private": True,
            "publishers": spec.publishers,
            "allowed": [],
            "require_pvtid": True,
            "audiocodec": "opus",
            "videocodec": "vp8,h264",
            "notify_joining": False,
            "record": spec.record,
            "lock_record": True,
        }
        if spec.rec_dir is not None:
            body["rec_dir"] = spec.rec_dir
        if self._admin_key is not None:
            body["admin_key"] = self._admin_key
        try:
            await self._handle().request(body)
        except JanusError as exc:
            if exc.code != ROOM_EXISTS:
                raise

    async def destroy_room(self, room: int) -> None:
        """Destroy the room (Janus tells and drops its participants). Idempotent."""
        self._rooms.pop(room, None)
        try:
            await self._handle().request({"request": "destroy", "room": room, "secret": self._room_secret(room)})
        except JanusError as exc:
            if exc.code != NO_SUCH_ROOM:
                raise

    async def room_exists(self, room: int) -> bool:
        data = await self._handle().request({"request": "exists", "room": room})
        return bool(data.get("exists"))

    async def participants(self, room: int) -> list[JsonObject]:
        """Janus's ``listparticipants``: ``[{id, display?, publisher, talking?}]``."""
        data = await self._handle().request({"request": "listparticipants", "room": room})
        found = data.get("participants")
        return list(found) if isinstance(found, list) else []

    async def allow(self, room: int, token: str) -> None:
        """Let ``token`` join the room (a participant's secret, chosen by meetkit)."""
        spec = self._known(room)
        spec.tokens.add(token)
        await self._allowed(spec, "add", [token])

    async def disallow(self, room: int, token: str) -> None:
        """Withdraw ``token``: new joins with it fail (433). Those in the room stay until kicked/closed."""
        spec = self._known(room)
        spec.tokens.discard(token)
        await self._allowed(spec, "remove", [token])

    def _known(self, room: int) -> _Room:
        spec = self._rooms.get(room)
        if spec is None:
            raise JanusError(NO_SUCH_ROOM, f"media room {room} was not created by this server")
        return spec

    async def _allowed(self, spec: _Room, action: str, tokens: list[str]) -> None:
        await self._handle().request(
            {"request": "allowed", "room": spec.room, "secret": spec.secret, "action": action, "allowed": tokens}
        )

    async def kick(self, room: int, feed: int) -> None:
        """Kick one Janus participant (a feed, or a presence id). Idempotent: gone is gone."""
        try:
            await self._handle().request(
                {"request": "kick", "room": room, "id": feed, "secret": self._room_secret(room)}
            )
        except JanusError as exc:
            if exc.code not in (NO_SUCH_FEED, NO_SUCH_ROOM):
                raise

    async def set_recording(self, room: int, record: bool, rec_dir: str | None) -> None:
        """Start or stop recording every publisher of the room (one .mjr file per track)."""
        spec = self._known(room)
        secret = spec.secret
        if rec_dir is not None and rec_dir != spec.rec_dir:
            await self._handle().request(
                {"request": "edit", "room": room, "secret": secret, "new_rec_dir": rec_dir}
            )
            spec.rec_dir = rec_dir
        await self._handle().request({"request": "enable_recording", "room": room, "secret": secret, "record": record})
        spec.record = record

    # -- participants -------------------------------------------------------------------------------

    async def open_participant(
        self, room: int, token: str, *, on_event: MediaEventCallback | None = None
    ) -> MediaParticipant:
        """Open a participant's media (its own Janus session); its token must be allowed (else 433)."""
        if self._client is None or self._client.closed:
            raise JanusClosedError("not connected to Janus")
        session = await self._client.create_session()
        participant = MediaParticipant(self, room, token, session, on_event)
        try:
            await participant._enter()
        except BaseException:
            await participant.close()
            raise
        return participant


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
        self._publishers: dict[str, tuple[JanusHandle, int]] = {}
        self._live: dict[str, asyncio.Event] = {}
        self._subscribers: dict[int, JanusHandle] = {}
        self._recordings: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
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
        return sorted(self._subscribers)

    async def _enter(self) -> None:
        handle = await self._attach("presence", None)
        data, _ = await handle.message(
            {"request": "join", "ptype": "publisher", "room": self.room, "token": self.token}
        )
        self._presence = handle
        self.presence_id = int(data["id"])
        self._private_id = int(data["private_id"])

    async def publish(self, kind: str, feed: int, display: str, sdp_offer: str) -> str:
        """Publish ``kind`` as Janus participant ``feed``; returns Janus's SDP answer.

        A second publish of the same kind replaces the first (the browser made a new PeerConnection).
        """
        if kind not in KINDS:
            raise ValueError(f"unknown media kind {kind!r}")
        async with self._lock(kind):
            await self._unpublish(kind)
            self._live[kind] = asyncio.Event()
            handle = await self._attach(kind, feed)
            try:
                await self._join_as(handle, feed, display)
                _, jsep = await handle.message(
                    {"request": "configure"}, {"type": "offer", "sdp": sdp_offer, "trickle": False}
                )
                if jsep is None or jsep.get("type") != "answer":
                    raise JanusError(0, "Janus configured the publisher without an SDP answer")
            except BaseException:
                await handle.detach()
                raise
            self._publishers[kind] = (handle, feed)
            return str(jsep["sdp"])

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

    async def subscribe(self, feed: int) -> str:
        """Subscribe to ``feed``: returns Janus's SDP offer, to be answered with :meth:`start`."""
        async with self._lock(f"feed:{feed}"):
            await self._unsubscribe(feed)
            handle = await self._attach("subscriber", feed)
            try:
                _, jsep = await handle.message(
                    {
                        "request": "join", "ptype": "subscriber", "room": self.room, "streams": [{"feed": feed}],
                        "private_id": self._private_id, "token": self.token,
                    }
                )
                if jsep is None or jsep.get("type") != "offer":
                    raise JanusError(0, "Janus attached the subscriber without an SDP offer")
            except BaseException:
                await handle.detach()
                raise
            self._subscribers[feed] = handle
            return str(jsep["sdp"])

    async def start(self, feed: int, sdp_answer: str) -> None:
        """Give Janus the browser's answer for ``feed``; media starts flowing."""
        async with self._lock(f"feed:{feed}"):
            handle = self._subscribers.get(feed)
            if handle is None:
                raise JanusError(NO_SUCH_FEED, f"not subscribed to feed {feed}")
            await handle.message({"request": "start"}, {"type": "answer", "sdp": sdp_answer, "trickle": False})

    async def unsubscribe(self, feed: int) -> None:
        """Stop watching ``feed``. Idempotent."""
        async with self._lock(f"feed:{feed}"):
            await self._unsubscribe(feed)

    async def _unsubscribe(self, feed: int) -> None:
        handle = self._subscribers.pop(feed, None)
        if handle is not None:
            await handle.detach()

    async def close(self) -> None:
        """Detach every handle and destroy the Janus session. Idempotent; safe after Janus is gone."""
        if self._closed:
            return
        self._closed = True
        handles = [h for h, _ in self._publishers.values()] + list(self._subscribers.values())
        if self._presence is not None:
            handles.append(self._presence)
        self._publishers.clear()
        self._subscribers.clear()
        self._recordings.clear()
        self._presence = None
        for handle in handles:
            await handle.detach()
        await self._session.destroy()

    # -- internals ----------------------------------------------------------------------------------

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def _attach(self, role: str, feed: int | None) -> JanusHandle:
        live = self._live.get(role)

        def on_event(_: JanusHandle, message: JsonObject) -> None:
            type_ = _event_type(message)
            if type_ == "webrtcup" and live is not None:
                live.set()
            self._emit(type_, role, feed, message)

        def on_closed(_: JanusHandle) -> None:
            self._emit("closed", role, feed, {})

        return await self._session.attach(PLUGIN, on_event=on_event, on_closed=on_closed)

    def _emit(self, type_: str, role: str, feed: int | None, data: JsonObject) -> None:
        if self.on_event is not None:
            self.on_event(MediaEvent(type_, role, feed, data))


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

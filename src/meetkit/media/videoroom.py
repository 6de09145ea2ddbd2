"""meetkit's media rooms on one Janus, through the videoroom plugin.

This, :mod:`.participant` and :mod:`meetkit.media.janus` are the only modules that know Janus. The
rest of meetkit sees:

- :class:`MediaServer`: rooms (create, destroy, who may join, kick, recording, a speaker's audio forwarded
  as RTP for captions) over one admin handle,
  and :meth:`MediaServer.open_participant`; its connection is kept up by a :class:`~.watchdog.Watchdog`;
- :class:`~.participant.MediaParticipant`: one participant's media, in its own Janus session: one
  publisher handle per kind (camera, screen) and one multistream subscriber handle
  (:mod:`.subscriber`) for everything it receives. SDP goes
  through meetkit: the browser never talks to Janus. (Importable from here too, with
  :class:`~.participant.MediaEvent`.)

Who may enter is decided by meetkit and enforced twice in Janus (see docs/media.md):

- rooms are created with ``allowed: []``: a publisher ``join`` must carry a token meetkit added with
  :meth:`MediaServer.allow` (else error 433). Each participant first joins as a publisher that sends
  nothing (its *presence*), which checks the token and yields a ``private_id``;
- Janus 1.1 does not check tokens on subscriber joins, so rooms also have ``require_pvtid``: a
  subscription must name the ``private_id`` of a participant present in the room (else 433), and
  kicking that participant cuts its subscriptions' media as well.

Browsers' publisher offers come at once, their candidates trickled after them (``"trickle": true`` in
the JSEP, then ``{"janus": "trickle"}``; see :mod:`meetkit.media.participant`); a complete offer goes
with ``"trickle": false``. Janus, which is not in full-trickle mode, puts its own candidates in its SDP.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..clock import Clock, SystemClock
from .codes import ID_EXISTS, NO_SUCH_FEED, NO_SUCH_ROOM, PLUGIN, PUBLISHERS_FULL, ROOM_EXISTS, UNAUTHORIZED
from .handover import MediaCard
from .janus import JanusClient, JanusClosedError, JanusError, JanusHandle, JsonObject
from .participant import KINDS, MediaEvent, MediaEventCallback, MediaKind, MediaParticipant
from .watchdog import Backoff, RestartCallback, Watchdog

log = logging.getLogger("meetkit.media")

__all__ = [
    "ID_EXISTS", "KINDS", "NO_SUCH_FEED", "NO_SUCH_ROOM", "PLUGIN", "PUBLISHERS_FULL", "ROOM_EXISTS", "UNAUTHORIZED",
    "AudioLevels", "MediaEvent", "MediaEventCallback", "MediaKind", "MediaParticipant", "MediaServer",
    "RestartCallback",
]


@dataclass
class _Room:
    room: int
    publishers: int
    record: bool
    rec_dir: str | None
    description: str
    secret: str
    audio_levels: AudioLevels | None = None
    tokens: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class AudioLevels:
    """Janus's talking detection for a room (``audiolevel_event``): someone talks when the average level
    of ``active_packets`` audio packets (20 ms each) is louder than ``average`` (-dBov: 0 is loudest,
    127 silence). Janus's defaults (100 packets, 25) take 2 s and miss soft talkers."""

    active_packets: int = 10
    average: int = 40


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
        clock: Clock | None = None,
    ) -> None:
        self.url = url
        self._admin_key = admin_key
        self._api_secret = api_secret
        self._timeout = timeout
        # Room secrets are derived, not stored: a restarted meetkit can still manage (destroy, allow,
        # kick) rooms that outlived it in an external Janus. The admin_key is itself a random secret.
        self._secret_seed = admin_key.encode() if admin_key else secrets.token_bytes(32)
        self._rooms: dict[int, _Room] = {}
        self._client: JanusClient | None = None
        self._admin: JanusHandle | None = None
        self._connected = asyncio.Event()
        self._clock = clock or SystemClock()
        self._joins: deque[float] = deque(maxlen=10_000)  # when participants were opened (clock seconds)
        self._lost: list[Callable[[], None]] = []
        # Each loss counts afresh: the first reconnection is tried at once, then with backoff.
        self._watchdog = Watchdog(
            f"the connection to Janus at {url}", self._connect, self._wait_lost, clock=self._clock,
            backoff=Backoff(initial=reconnect_min, cap=reconnect_max, at_once=True),
        )
        # Rooms come back before anyone else hears of the restart.
        self._watchdog.on_restart(self._restore_rooms)

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (raises :class:`JanusError` if Janus cannot be reached) and start watching."""
        await self._watchdog.start()

    async def stop(self) -> None:
        await self._watchdog.stop()
        if self._client is not None:
            await self._client.close()
        self._client = None
        self._admin = None
        self._connected.clear()

    @property
    def connected(self) -> bool:
        return self._client is not None and not self._client.closed

    @property
    def restarts(self) -> int:
        """Reconnections so far."""
        return self._watchdog.restarts

    async def wait_connected(self, time_limit: float) -> None:
        async with asyncio.timeout(time_limit):
            await self._connected.wait()

    def on_lost(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` each time the connection is lost (every session on it is gone)."""
        self._lost.append(callback)

    def on_restart(self, callback: RestartCallback) -> None:
        """Await ``callback()`` after every reconnection (rooms already re-created). Failures are logged."""
        self._watchdog.on_restart(callback)

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

    async def _wait_lost(self) -> None:
        """Return when the connection closes: Janus restarted or the socket broke."""
        client = self._client
        if client is not None:
            await client.wait_closed()
        self._connected.clear()
        log.warning("connection to Janus at %s lost; reconnecting", self.url)
        for callback in list(self._lost):
            callback()

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
        audio_levels: AudioLevels | None = None,
    ) -> None:
        """Create the Janus room, locked to tokens added by :meth:`allow`. Idempotent. With
        ``audio_levels``, every participant in the room hears ``talking`` / ``stopped-talking``."""
        existing = self._rooms.get(room)
        spec = _Room(room, publishers, record, rec_dir, description, self._room_secret(room), audio_levels)
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
        if spec.audio_levels is not None:
            body["audiolevel_event"] = True
            body["audio_active_packets"] = spec.audio_levels.active_packets
            body["audio_level_average"] = spec.audio_levels.average
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

    def forget_room(self, room: int) -> None:
        """The room moved to another Janus: not re-created here when this one comes back."""
        self._rooms.pop(room, None)

    async def room_sizes(self) -> list[int]:
        """``num_participants`` of each of meetkit's rooms on this Janus (``list``: the admin_key shows
        private rooms too), for placement (domain/placement.py)."""
        body: JsonObject = {"request": "list"}
        if self._admin_key is not None:
            body["admin_key"] = self._admin_key
        data = await self._handle().request(body)
        rooms = data.get("list")
        return [int(r.get("num_participants") or 0) for r in rooms if isinstance(r, dict)
                and str(r.get("description", "")).startswith("meetkit ")] if isinstance(rooms, list) else []

    def recent_joins(self, within: float = 60.0) -> int:
        now = self._clock.now().timestamp()
        return sum(1 for at in self._joins if now - at <= within)

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
        await self.room_request(room, {"request": "kick", "id": feed}, gone_ok=True)

    async def room_request(self, room: int, body: JsonObject, *, admin: bool = False,
                           gone_ok: bool = False) -> JsonObject:
        """A request on one of meetkit's rooms, with its secret (and the admin key, with ``admin``: RTP
        forwarding is locked to it): media/remote.py's cascading requests. With ``gone_ok``, a feed or
        room that is gone answers ``{}`` (undoing what went with it is done)."""
        full: JsonObject = {**body, "room": room, "secret": self._room_secret(room)}
        if admin and self._admin_key is not None:
            full["admin_key"] = self._admin_key
        try:
            return await self._handle().request(full)
        except JanusError as exc:
            if gone_ok and exc.code in (NO_SUCH_FEED, NO_SUCH_ROOM):
                return {}
            raise

    async def forward_audio(self, room: int, feed: int, mid: str, port: int, host: str = "127.0.0.1") -> int:
        """Have Janus send one of ``feed``'s streams (``mid``: its audio, as the feed's ``streams`` name
        it) to ``host:port`` as plain RTP, unencrypted (captions/audio.py listens there). Returns the
        forwarder's ``stream_id`` for :meth:`stop_forward`. Not idempotent: each call adds a forwarder.

        Raises :class:`JanusError`: NO_SUCH_ROOM, NO_SUCH_FEED (also when the feed has no stream
        ``mid``: Janus skips an unknown mid without an error, and answers with no forwarder)."""
        data = await self.room_request(room, {
            "request": "rtp_forward", "publisher_id": feed, "host": host, "host_family": "ipv4",
            "streams": [{"mid": mid, "port": port}],
        }, admin=True)
        forwarders = data.get("forwarders")
        ids = [f.get("stream_id") for f in forwarders if isinstance(f, dict)] if isinstance(forwarders, list) else []
        if not ids or not isinstance(ids[0], int):
            raise JanusError(NO_SUCH_FEED, f"feed {feed} in media room {room} has no stream {mid!r} to forward")
        return ids[0]

    async def stop_forward(self, room: int, feed: int, stream_id: int) -> None:
        """Stop a forwarder of :meth:`forward_audio`. Idempotent: a feed or room that is gone took its
        forwarders with it."""
        await self.room_request(room, {"request": "stop_rtp_forward", "publisher_id": feed, "stream_id": stream_id},
                                admin=True, gone_ok=True)

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
        self._joins.append(self._clock.now().timestamp())
        session = await self._client.create_session()
        participant = MediaParticipant(self, room, token, session, on_event)
        try:
            await participant._enter()
        except BaseException:
            await participant.close()
            raise
        return participant

    async def claim_participant(self, room: int, token: str, card: MediaCard, *,
                                on_event: MediaEventCallback | None = None) -> MediaParticipant:
        """Go on with a participant's media that another meetkit opened (media/handover.py): its Janus
        session is claimed on this connection. Raises :class:`JanusError` (458: the session is gone)."""
        if self._client is None or self._client.closed:
            raise JanusClosedError("not connected to Janus")
        session = await self._client.claim_session(card.session)
        participant = MediaParticipant(self, room, token, session, on_event)
        participant._claimed(card)
        return participant

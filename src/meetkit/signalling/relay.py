"""The room's media relay: meetkit, not the browser, talks to Janus. It opens a participant's media
when they enter (their token added to the media room) and closes it when they leave, and listens to
what Janus says unasked about a participant's handles (a publisher hung up, a participant kicked).
Publishing is signalling/publishing.py; what each participant receives, signalling/subscriptions.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal, cast

from ..media.handover import MediaCard
from ..media.videoroom import AudioLevels, MediaEvent, MediaServer
from . import protocol
from .cascade import SplitMedia
from .node import MEDIA_TIMEOUT, MediaParticipantPort, MediaPort
from .participant import Participant

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger("meetkit.signalling")

PUBLISHER_ROLES = ("camera", "screen")
CandidateTarget = Literal["camera", "screen", "subscriber"]
CANDIDATE_TARGETS = ("camera", "screen", "subscriber")


def new_feed_id() -> int:
    return secrets.randbelow(2**52 - 1) + 1


class Relay:
    def __init__(self, room: Room) -> None:
        self.room = room

    # --- a participant's media (the room lock is held) ----------------------------------------------

    async def open_media_of_newcomer(self, m: Participant) -> str | None:
        """Opens ``m``'s media; what to tell them when there is none."""
        if not self.room.node.has_media:
            return "this server runs without a media server"
        try:
            await asyncio.wait_for(self.open_media(m), MEDIA_TIMEOUT)
        except Exception as exc:
            log.warning("media for a participant could not be opened: %s", type(exc).__name__)
            return "the media server is not available"
        return None

    async def open_media(self, m: Participant, *, told: Callable[[], None] | None = None) -> None:
        """Opens ``m``'s media; ``told`` runs as soon as ``m.media`` is set, before anything else can
        use it (a re-open tells the browser ``media.reset`` there, before any offer of the new media)."""
        room = self.room
        if room.janus_room is None or room.media is None:  # the meeting's first media: placed now
            room.media = await room.node.place(room.room_id)
            room.janus_room = new_feed_id()
        port, janus_room = room.media, room.janus_room
        if port is None or janus_room is None:
            raise LookupError("no media server can take the meeting")
        await self.ready_media_room()
        edge = await room.cascade.place(m)  # None: m receives on the home Janus too
        await port.allow(janus_room, m.media_token)
        on_event, opened = self._events_of(m)
        media = await port.open_participant(janus_room, m.media_token, on_event=on_event)
        if edge is not None:
            try:
                await edge.server.allow(room.janus_room, m.media_token)
                far = await edge.server.open_participant(room.janus_room, m.media_token, on_event=on_event)
            except BaseException:
                room.cascade.release(m)
                await media.close()
                raise
            far.subscriber.to_janus, far.subscriber.from_janus = edge.to_edge, edge.to_home
            media = SplitMedia(media, far)
        opened.append(media)
        m.media = media
        if told is not None:
            told()

    async def ready_media_room(self) -> None:
        """The meeting's media room exists on its Janus, with its listener. Idempotent: cheap when the room
        exists, and re-creates it after a media server restart."""
        room, port, janus_room = self.room, self.room.media, self.room.janus_room
        if port is None or janus_room is None:
            raise LookupError("the meeting has no media room")
        s = room.node.c.settings
        # Janus counts every sender, audio-only ones included; meetkit enforces the video limit itself.
        # (+1: the room's listener, signalling/speakers.py.) Talking detection tuned in the settings.
        await port.create_room(janus_room, publishers=s.max_participants + s.max_video_senders + 1,
                               description=f"meetkit {room.room_id}",
                               audio_levels=AudioLevels(s.audio_active_packets, s.audio_level_average))
        await room.subscriptions.speakers.open()

    async def claim_media(self, m: Participant, card: MediaCard) -> None:
        """Go on with ``m``'s media from a dead owner's card (signalling/carry.py); its token is allowed."""
        room, server = self.room, self.room.media
        if not isinstance(server, MediaServer) or room.janus_room is None:
            raise LookupError("the meeting has no media room")
        on_event, opened = self._events_of(m)
        media = await server.claim_participant(room.janus_room, m.media_token, card, on_event=on_event)
        opened.append(media)
        m.media = media
        room.cascade.home_receivers.add(m.id)

    def _events_of(self, m: Participant) -> tuple[Callable[[MediaEvent], None], list[MediaParticipantPort]]:
        """What Janus says unasked about ``m``'s media, once it is in the list (and still ``m``'s)."""
        opened: list[MediaParticipantPort] = []

        def on_event(event: MediaEvent) -> None:
            if opened and m.media is opened[0]:  # a closed or replaced media's events are history
                self._heard(m, opened[0], event)

        return on_event, opened

    async def close_media(self, m: Participant) -> None:
        """Token withdrawn, feeds and presence kicked, Janus session destroyed: each step on its own,
        so one failing does not keep the others from happening."""
        port, room = self.room.media, self.room
        media, m.media = m.media, None
        room.subscriptions.forget(m)
        feeds = [*m.feeds.values(), *m.pending.values()]
        presence = getattr(media, "presence_id", None)
        edge = room.cascade.release(m)
        if port is not None and room.janus_room is not None:
            steps: list[Awaitable[None]] = [port.disallow(room.janus_room, m.media_token)]
            steps += [port.kick(room.janus_room, feed) for feed in feeds]
            if isinstance(presence, int):
                steps.append(port.kick(room.janus_room, presence))
            far = getattr(media, "edge", None)
            if edge is not None and far is not None:
                steps.append(edge.server.disallow(room.janus_room, m.media_token))
                steps.append(edge.server.kick(room.janus_room, far.presence_id))
            for step in steps:
                try:
                    await asyncio.wait_for(step, MEDIA_TIMEOUT)
                except Exception as exc:
                    log.warning("withdrawing a participant's media failed: %s", type(exc).__name__)
        if media is not None:
            try:
                await asyncio.wait_for(media.close(), MEDIA_TIMEOUT)
            except Exception as exc:
                log.warning("closing a participant's media failed: %s", type(exc).__name__)

    async def let_go_media(self) -> None:
        """Another node owns the meeting and claims its media (signalling/carry.py): this node forgets
        everyone's media and the media room without a word to Janus."""
        room = self.room
        for m in room.participants.values():
            media, m.media = m.media, None
            let_go = getattr(media, "let_go", None)
            if let_go is not None:
                let_go()
        room.subscriptions.close()
        await room.subscriptions.speakers.close()  # this node's own listener: the new owner has its own
        room.cascade.forget()
        room.janus_room, room.media = None, None

    async def destroy_media_room(self) -> None:
        port, janus_room = await self._drop_media_room()
        if port is not None and janus_room is not None:
            try:
                await port.destroy_room(janus_room)
            except Exception as exc:
                log.warning("destroying a media room failed: %s", type(exc).__name__)

    async def move(self) -> None:
        """The room's Janus is lost and the pool has others: the meeting is placed again and everyone
        publishes and subscribes there (``media.reset``). The room lock is held."""
        old, janus_room = await self._drop_media_room()
        forget = getattr(old, "forget_room", None)
        if forget is not None and janus_room is not None:
            forget(janus_room)  # not re-created there should that Janus come back
        people = self.room.joined()
        for m in people:  # gone with the lost Janus, but a cascade's edge part is alive: its session goes
            if m.media is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(m.media.close(), MEDIA_TIMEOUT)
        await self.reopen(people)

    async def _drop_media_room(self) -> tuple[MediaPort | None, int | None]:
        """The room lets go of its media room: subscriptions and listener closed, the room unplaced (the
        next media opened places it again). Returns where it was."""
        room = self.room
        room.subscriptions.close()
        await room.subscriptions.speakers.close()
        await room.cascade.close(room.janus_room)
        was = room.media, room.janus_room
        room.janus_room, room.media = None, None
        return was

    async def reopen(self, people: list[Participant]) -> None:
        """Their media sessions are gone (Janus restarted, or kicked them): open new ones and tell the
        browsers to publish and subscribe again. The room lock is held."""
        for m in people:
            m.media = None
            m.feeds.clear()
            m.video_kinds.clear()
        for m in people:  # its viewer may wait for an answer to an offer of the media now gone: a new one
            self.room.subscriptions.forget(m)
        for m in people:
            await self._reopen_one(m)
        for m in people:
            self.room.updates.changed(m)  # coalesced (signalling/coalesce.py): a burst of media requests is one update

    async def _reopen_one(self, m: Participant) -> None:
        told = False

        def tell() -> None:  # media.reset before any offer of the new media can be sent
            nonlocal told
            told = True
            m.send(protocol.MediaReset())

        try:
            await asyncio.wait_for(self.open_media(m, told=tell), MEDIA_TIMEOUT)
        except Exception as exc:
            log.warning("re-opening media failed: %s", type(exc).__name__)
        if not told:
            m.send(protocol.MediaReset())

    # --- what Janus says unasked --------------------------------------------------------------------

    def _heard(self, m: Participant, media: MediaParticipantPort, event: MediaEvent) -> None:
        """Called from the Janus reader: anything that needs the room lock runs in a task. Janus tells
        everyone in a room that somebody was kicked (a plain ``event`` with ``kicked: <id>``); only the
        kicked handle itself hears ``kicked`` (``leaving: "ok"``)."""
        if event.type == "trickle" and event.role in CANDIDATE_TARGETS:
            m.send(_janus_candidate(cast(CandidateTarget, event.role), event.data.get("candidate")))
        elif event.role in PUBLISHER_ROLES and event.feed is not None and event.type in ("hangup", "kicked"):
            self.room.node.spawn(self._hung_up(m, media, event.role, event.feed), name="publisher-hangup")
        elif event.role == "presence" and event.type == "kicked":
            self.room.node.spawn(self._kicked(m, media), name="media-kicked")

    async def _hung_up(self, m: Participant, media: MediaParticipantPort, kind: str, feed: int) -> None:
        """Janus closed a live publisher's PeerConnection (ICE failed, DTLS alert): the feed is withdrawn
        and the browser, told ``publish_failed``, publishes again."""
        async with self.room.lock:
            # A publish of this kind under way replaces the handle: its old handle's hangup is expected.
            if (m.state != "joined" or m.media is not media or m.feeds.get(kind) != feed
                    or kind in m.pending):
                return
            del m.feeds[kind]
            m.video_kinds.discard(kind)
            if kind == "camera":
                m.camera = False
        async with m.lock:
            with contextlib.suppress(Exception):  # the dead handle goes, so the next publish is a new feed
                await asyncio.wait_for(media.unpublish(kind), MEDIA_TIMEOUT)
        self.room.updates.changed(m)  # coalesced (signalling/coalesce.py): a burst of media requests is one update
        m.send(protocol.MediaError(kind="screen" if kind == "screen" else "camera", code="publish_failed",
                                   message="the media server lost your media"))

    async def _kicked(self, m: Participant, media: MediaParticipantPort) -> None:
        """Janus kicked this participant's presence, which cuts its subscriptions too (meetkit did not:
        it forgets a participant's media before it kicks). The participant is still in the meeting, so
        its media is opened again and its browser told ``media.reset``."""
        async with self.room.lock:
            if m.state != "joined" or m.media is not media:
                return
            with contextlib.suppress(Exception):
                await asyncio.wait_for(media.close(), MEDIA_TIMEOUT)
            await self.reopen([m])



def _janus_candidate(target: CandidateTarget, candidate: object) -> protocol.MediaCandidateOut:
    """Janus's trickle event as the browser's ``media.candidate``: ``{completed: true}`` is the null."""
    if not isinstance(candidate, dict) or candidate.get("completed") or not isinstance(candidate.get("candidate"), str):
        return protocol.MediaCandidateOut(target=target, candidate=None)
    mid, mline = candidate.get("sdpMid"), candidate.get("sdpMLineIndex")
    return protocol.MediaCandidateOut(target=target, candidate=protocol.IceCandidateOut(
        candidate=candidate["candidate"], sdpMid=None if mid is None else str(mid),
        sdpMLineIndex=mline if isinstance(mline, int) else None))

"""The room's media relay: meetkit, not the browser, talks to Janus. It opens a participant's media
when they enter (their token added to the media room) and closes it when they leave, relays the SDP of
publishing (what each participant receives: signalling/subscriptions.py), and listens to what Janus
says unasked about a participant's handles (a publisher hung up, a participant kicked)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Literal, cast

from ..domain import lobby as rules
from ..media.sdp import keep_candidate, keep_candidates, sends_video
from ..media.videoroom import AudioLevels, MediaEvent
from . import protocol
from .node import MEDIA_TIMEOUT, MediaParticipantPort
from .participant import Participant

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger("meetkit.signalling")

PUBLISHER_ROLES = ("camera", "screen")
CandidateTarget = Literal["camera", "screen", "subscriber"]
CANDIDATE_TARGETS = ("camera", "screen", "subscriber")


def _new_feed_id() -> int:
    return secrets.randbelow(2**52 - 1) + 1


class Relay:
    def __init__(self, room: Room) -> None:
        self.room = room

    # --- a participant's media (the room lock is held) ----------------------------------------------

    async def open_media_of_newcomer(self, m: Participant) -> str | None:
        """Opens ``m``'s media; what to tell them when there is none."""
        if self.room.node.media is None:
            return "this server runs without a media server"
        try:
            await asyncio.wait_for(self.open_media(m), MEDIA_TIMEOUT)
        except Exception as exc:
            log.warning("media for a participant could not be opened: %s", type(exc).__name__)
            return "the media server is not available"
        return None

    async def open_media(self, m: Participant) -> None:
        port = self.room.node.media
        assert port is not None
        room = self.room
        if room.janus_room is None:
            room.janus_room = _new_feed_id()
        # Idempotent: cheap when the room exists, and re-creates it after a media server restart.
        s = room.node.c.settings
        # Janus counts every sender, audio-only ones included; meetkit enforces the video limit itself.
        # (+1: the room's listener, signalling/speakers.py.) Talking detection tuned in the settings.
        await port.create_room(room.janus_room, publishers=s.max_participants + s.max_video_senders + 1,
                               description=f"meetkit {room.room_id}",
                               audio_levels=AudioLevels(s.audio_active_packets, s.audio_level_average))
        await room.subscriptions.speakers.open()
        await port.allow(room.janus_room, m.media_token)
        opened: list[MediaParticipantPort] = []

        def on_event(event: MediaEvent) -> None:
            if opened and m.media is opened[0]:  # a closed or replaced media's events are history
                self._heard(m, opened[0], event)

        media = await port.open_participant(room.janus_room, m.media_token, on_event=on_event)
        opened.append(media)
        m.media = media

    async def close_media(self, m: Participant) -> None:
        """Token withdrawn, feeds and presence kicked, Janus session destroyed: each step on its own,
        so one failing does not keep the others from happening."""
        port, room = self.room.node.media, self.room
        media, m.media = m.media, None
        room.subscriptions.forget(m)
        feeds = [*m.feeds.values(), *m.pending.values()]
        presence = getattr(media, "presence_id", None)
        if port is not None and room.janus_room is not None:
            steps: list[Awaitable[None]] = [port.disallow(room.janus_room, m.media_token)]
            steps += [port.kick(room.janus_room, feed) for feed in feeds]
            if isinstance(presence, int):
                steps.append(port.kick(room.janus_room, presence))
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

    async def destroy_media_room(self) -> None:
        port, room = self.room.node.media, self.room
        room.subscriptions.close()
        await room.subscriptions.speakers.close()
        if port is not None and room.janus_room is not None:
            try:
                await port.destroy_room(room.janus_room)
            except Exception as exc:
                log.warning("destroying a media room failed: %s", type(exc).__name__)
        room.janus_room = None

    async def reopen(self, people: list[Participant]) -> None:
        """Their media sessions are gone (Janus restarted, or kicked them): open new ones and tell the
        browsers to publish and subscribe again. The room lock is held."""
        for m in people:
            m.media = None
            m.feeds.clear()
            m.video_kinds.clear()
        for m in people:
            try:
                await asyncio.wait_for(self.open_media(m), MEDIA_TIMEOUT)
            except Exception as exc:
                log.warning("re-opening media failed: %s", type(exc).__name__)
        for m in people:
            m.send(protocol.MediaReset())
            self.room.updates.changed(m)  # coalesced (signalling/coalesce.py): a burst of media requests is one update

    # --- requests from the browser ------------------------------------------------------------------

    async def publish(self, m: Participant, msg: protocol.MediaPublish) -> None:
        room, s = self.room, self.room.node.c.settings
        if m.media is None:
            m.send(protocol.MediaError(kind=msg.kind, code="media_unavailable",
                                       message="no media for this participant"))
            return
        if msg.restart:
            await self._renegotiate(m, msg)
            return
        video = sends_video(msg.sdp)
        async with room.lock:  # the video limit is checked and reserved atomically
            if video and not rules.holds_video_place(msg.kind, video_kinds=m.video_kinds, camera_on=m.camera):
                if not rules.may_send_video(video_senders=room.video_senders(), max_video_senders=s.max_video_senders):
                    m.send(self._video_limit(msg.kind))
                    return
                m.video_kinds.add(msg.kind)
                if msg.kind == "camera":
                    m.camera = True  # its offer sends camera video: the place is held from now on
            elif not video:
                m.video_kinds.discard(msg.kind)
            feed = m.feeds.get(msg.kind) or m.pending.get(msg.kind) or _new_feed_id()
            m.pending[msg.kind] = feed
        async with m.lock:
            try:
                offer = keep_candidates(msg.sdp, room.node.candidate_networks)
                answer = await asyncio.wait_for(m.media.publish(msg.kind, feed, m.name, offer, trickle=msg.trickle),
                                                MEDIA_TIMEOUT)
            except Exception as exc:
                m.video_kinds.discard(msg.kind)
                m.pending.pop(msg.kind, None)
                log.warning("publish failed: %s", type(exc).__name__)
                m.send(protocol.MediaError(kind=msg.kind, code="publish_failed", message="the media server refused"))
                return
        m.send(protocol.MediaAnswerOut(kind=msg.kind, feed=feed, sdp=answer))
        # Others may subscribe only once Janus has the publisher's media: announce the feed then.
        room.node.spawn(self._announce(m, msg.kind, feed, video), name="announce-feed")

    def _video_limit(self, kind: protocol.Kind) -> protocol.MediaError:
        limit = self.room.node.c.settings.max_video_senders
        return protocol.MediaError(kind=kind, code="video_limit", message=f"{limit} people are already sending "
                                                                           "video: you can send audio only for now.")

    async def _renegotiate(self, m: Participant, msg: protocol.MediaPublish) -> None:
        """An ICE restart (or any new offer) of the live publisher: the same Janus handle and feed, so
        nobody's subscription changes. The same media is not asked the video limit again; an offer
        that adds video needs a free place, checked and reserved like a fresh publish's (else
        ``video_limit``), and one that drops video frees its place."""
        feed = m.feeds.get(msg.kind) or m.pending.get(msg.kind)
        media = m.media
        if feed is None or media is None:
            m.send(protocol.MediaError(kind=msg.kind, code="publish_failed",
                                       message="nothing to restart: publish again"))
            return
        video, had_video, camera = sends_video(msg.sdp), msg.kind in m.video_kinds, m.camera
        if video != had_video:
            async with self.room.lock:  # the video limit is checked and reserved atomically
                if video and not rules.may_send_video(video_senders=self.room.video_senders(),
                                                      max_video_senders=self.room.node.c.settings.max_video_senders):
                    m.send(self._video_limit(msg.kind))
                    return
                (m.video_kinds.add if video else m.video_kinds.discard)(msg.kind)
                if msg.kind == "camera":
                    m.camera = video
        async with m.lock:
            try:
                offer = keep_candidates(msg.sdp, self.room.node.candidate_networks)
                answer = await asyncio.wait_for(media.renegotiate(msg.kind, offer, trickle=msg.trickle), MEDIA_TIMEOUT)
            except Exception as exc:
                if video != had_video:  # Janus kept the publisher as it was: so does its place
                    (m.video_kinds.add if had_video else m.video_kinds.discard)(msg.kind)
                    m.camera = camera
                log.warning("restarting a publisher failed: %s", type(exc).__name__)
                m.send(protocol.MediaError(kind=msg.kind, code="publish_failed", message="the media server refused"))
                return
        m.send(protocol.MediaAnswerOut(kind=msg.kind, feed=feed, sdp=answer))
        if video != had_video:
            self.room.updates.changed(m)  # its camera is on (or off) for the others now

    async def candidate(self, m: Participant, msg: protocol.MediaCandidate) -> None:
        """A browser's trickled candidate: filtered like the SDP's (MEETKIT_MEDIA_CANDIDATE_NETWORKS),
        then handed to the Janus handle of its connection. A lost candidate costs at most one path,
        so a failure is logged, not answered."""
        media, c = m.media, msg.candidate
        if media is None:
            return
        if c is not None and (not c.candidate or not keep_candidate(c.candidate, self.room.node.candidate_networks)):
            return  # an empty one is a browser's end of one m-line's candidates; the null follows
        try:
            await asyncio.wait_for(media.trickle(msg.target, None if c is None else c.model_dump(exclude_none=True)),
                                   MEDIA_TIMEOUT)
        except Exception as exc:
            log.warning("a trickled candidate could not be given to the media server: %s", type(exc).__name__)

    async def camera_state(self, m: Participant, camera: bool) -> None:
        """``media.state``: a camera turned off frees its video-sender place; turned on again over a
        video sender kept in the connection, it needs a free place, or it is refused (``video_limit``,
        and the page turns the camera off)."""
        room, s = self.room, self.room.node.c.settings
        async with room.lock:
            if camera and not m.camera and "camera" in m.video_kinds:
                if not rules.may_send_video(video_senders=room.video_senders(), max_video_senders=s.max_video_senders):
                    m.send(self._video_limit("camera"))
                    return
            m.camera = camera

    async def _announce(self, m: Participant, kind: str, feed: int, video: bool) -> None:
        media = m.media
        if media is None:
            return
        try:
            await media.wait_live(kind, time_limit=MEDIA_TIMEOUT)
        except Exception as exc:
            if m.pending.get(kind) != feed:
                return  # unpublished or published again meanwhile: nothing of this attempt is counted
            m.pending.pop(kind, None)
            log.warning("a published feed did not come up: %s", type(exc).__name__)
            m.video_kinds.discard(kind)
            m.send(protocol.MediaError(kind="screen" if kind == "screen" else "camera", code="publish_failed",
                                       message="your media did not reach the media server"))
            return
        if m.state != "joined" or m.media is not media or m.pending.get(kind) != feed:
            return
        del m.pending[kind]
        m.feeds[kind] = feed
        if kind == "camera":
            m.camera = video
        self.room.updates.changed(m)  # coalesced (signalling/coalesce.py): a burst of media requests is one update
        if self.room.recording.active():
            async with self.room.lock:
                await self.room.recording.feed_announced(m, kind)

    async def unpublish(self, m: Participant, kind: str) -> None:
        m.feeds.pop(kind, None)
        m.pending.pop(kind, None)
        m.video_kinds.discard(kind)
        if m.media is not None:  # also when the feed was not live yet: Janus's publisher goes too
            async with m.lock:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(m.media.unpublish(kind), MEDIA_TIMEOUT)
        if kind == "camera":
            m.camera = False
        self.room.updates.changed(m)  # coalesced (signalling/coalesce.py): a burst of media requests is one update

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

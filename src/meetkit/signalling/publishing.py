"""Publishing, as the browser asks it: a camera or screen offer relayed to its Janus publisher
handle (the video-sender limit checked and reserved under the room lock), an ICE-restart offer on the
live publisher, trickled candidates, the camera turned off and on (``media.state``), the feed
announced once live, and unpublishing. The room's part ``room.publishing``; opening and closing a
participant's media, and what Janus says unasked, stay in signalling/relay.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from ..domain import lobby as rules
from ..media.sdp import keep_candidate, keep_candidates, sends_video
from . import protocol
from .node import MEDIA_TIMEOUT
from .participant import Participant
from .relay import new_feed_id

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger("meetkit.signalling")


class Publishing:
    def __init__(self, room: Room) -> None:
        self.room = room

    async def publish(self, m: Participant, msg: protocol.MediaPublish) -> None:
        room, s = self.room, self.room.node.c.settings
        if m.media is None:
            m.send(protocol.MediaError(kind=msg.kind, offer=msg.offer, code="media_unavailable",
                                       message="no media for this participant"))
            return
        if msg.restart:
            await self._renegotiate(m, msg)
            return
        video = sends_video(msg.sdp)
        async with room.lock:  # the video limit is checked and reserved atomically
            if video and not rules.holds_video_place(msg.kind, video_kinds=m.video_kinds, camera_on=m.camera):
                if not rules.may_send_video(video_senders=room.video_senders(), max_video_senders=s.max_video_senders):
                    m.send(self._video_limit(msg.kind, msg.offer))
                    return
                m.video_kinds.add(msg.kind)
                if msg.kind == "camera":
                    m.camera = True  # its offer sends camera video: the place is held from now on
            elif not video:
                m.video_kinds.discard(msg.kind)
            feed = m.feeds.get(msg.kind) or m.pending.get(msg.kind) or new_feed_id()
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
                m.send(protocol.MediaError(kind=msg.kind, offer=msg.offer, code="publish_failed",
                                           message="the media server refused"))
                return
        m.send(protocol.MediaAnswerOut(kind=msg.kind, feed=feed, sdp=answer, offer=msg.offer))
        # Others may subscribe only once Janus has the publisher's media: announce the feed then.
        room.node.spawn(self._announce(m, msg.kind, feed, video), name="announce-feed")

    def _video_limit(self, kind: protocol.Kind, offer: int | None = None) -> protocol.MediaError:
        limit = self.room.node.c.settings.max_video_senders
        return protocol.MediaError(kind=kind, offer=offer, code="video_limit",
                                   message=f"{limit} people are already sending video: "
                                           "you can send audio only for now.")

    async def _renegotiate(self, m: Participant, msg: protocol.MediaPublish) -> None:
        """An ICE restart (or any new offer) of the live publisher: the same Janus handle and feed, so
        nobody's subscription changes. The same media is not asked the video limit again; an offer
        that adds video needs a free place, checked and reserved like a fresh publish's (else
        ``video_limit``), and one that drops video frees its place."""
        feed = m.feeds.get(msg.kind) or m.pending.get(msg.kind)
        media = m.media
        if feed is None or media is None:
            m.send(protocol.MediaError(kind=msg.kind, offer=msg.offer, code="publish_failed",
                                       message="nothing to restart: publish again"))
            return
        video, had_video, camera = sends_video(msg.sdp), msg.kind in m.video_kinds, m.camera
        if video != had_video:
            async with self.room.lock:  # the video limit is checked and reserved atomically
                if video and not rules.may_send_video(video_senders=self.room.video_senders(),
                                                      max_video_senders=self.room.node.c.settings.max_video_senders):
                    m.send(self._video_limit(msg.kind, msg.offer))
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
                m.send(protocol.MediaError(kind=msg.kind, offer=msg.offer, code="publish_failed",
                                           message="the media server refused"))
                return
        m.send(protocol.MediaAnswerOut(kind=msg.kind, feed=feed, sdp=answer, offer=msg.offer))
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

"""What each participant receives, on its one subscriber PC: the videos its page shows (``media.view``)
at the simulcast layer that fits each tile, and the audio of others (domain/audio_slots.py).

Every participant has a :class:`Viewer`: its wishes and a worker task that makes the Janus subscriber
match what it should receive. Anything that may change it (a view, a feed announced or withdrawn, a
mute, a new speaker) only marks the viewers dirty; the worker recomputes from the room as it is then,
so a burst of changes is one update. One renegotiation is outstanding at a time: after an ``update``
the worker waits (bounded) for the page's ``media.answer`` before it changes anything else. Audio
slots are re-pointed with ``switch`` (no SDP: ``media.streams``), layers with ``configure``.

The room's talking detection comes from Janus (the room is created with ``audiolevel_event``, see
media/videoroom.py): Janus tells every participant of a room about every talker, so meetkit listens to
one handle per room (:mod:`.speakers`), not to every presence (N² events)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..domain.audio_slots import choose_audio
from ..domain.layers import substream_for
from ..media.sdp import keep_candidates
from ..media.subscriber import SubscribedStream
from . import protocol
from .layers import ViewerLayers, layer_options
from .node import MEDIA_TIMEOUT, MediaParticipantPort
from .participant import Participant
from .speakers import Speakers

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger("meetkit.signalling")

# How long an offer waits for the page's answer before the subscription starts afresh. Long: a page on
# a starved machine took 21 s to set an offer and make its answer (6 pages on 2 cores), and every
# offer sent to it before it is done only adds work. Not sent again on a live socket (TCP delivers
# it); a page that resumes says what it shows, and that brings the offer again (view()).
ANSWER_TIMEOUT = 30.0
RETRIES, RETRY_AFTER = 5, 0.3  # a failed update is tried again this often, this much later (seconds)
Key = tuple[int, str]  # (feed, the publisher's mid)


@dataclass(eq=False)
class Viewer:
    m: Participant
    tiles: dict[int, int] = field(default_factory=dict)  # feed → tile width (device pixels)
    low_bandwidth: bool = False
    media: MediaParticipantPort | None = None  # the media the state below belongs to
    slots: list[str] = field(default_factory=list)  # the slot m-lines' mids, in slot order
    slot_of: dict[str, str] = field(default_factory=dict)  # slot mid → the participant it carries
    layers: ViewerLayers | None = None  # the videos' simulcast layers, for the media above
    dirty: asyncio.Event = field(default_factory=asyncio.Event)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    offered: bool = False  # an offer awaits the page's answer
    offer_id: int = 0  # the last offer's number (media.offer ``offer``)
    pending: protocol.MediaOffer | None = None  # that offer, to send again if the page missed it
    stale: bool = False  # the subscriber handle is to be dropped and joined afresh (hangup, no answer)
    restart: bool = False
    janus_offers: list[str] = field(default_factory=list)  # offers Janus made unasked
    task: asyncio.Task[None] | None = None


class Subscriptions:
    def __init__(self, room: Room) -> None:
        self.room = room
        self.viewers: dict[str, Viewer] = {}
        self.speakers = Speakers(room, self.changed)

    # --- what may change a subscription -------------------------------------------------------------

    def changed(self) -> None:
        """Feeds, mutes, speakers or hosts changed: every viewer recomputes (coalesced per viewer)."""
        for m in self.room.joined():
            if m.media is not None:
                self._viewer(m).dirty.set()

    def view(self, m: Participant, msg: protocol.MediaView) -> None:
        v = self._viewer(m)
        tiles: dict[int, int] = {}
        for t in msg.tiles:  # one feed in two tiles: the larger decides its layer
            tiles[t.feed] = max(tiles.get(t.feed, 0), t.width)
        v.tiles = tiles
        v.low_bandwidth = msg.low_bandwidth
        if v.offered and v.pending is not None:
            # A page that says what it shows while an offer waits may never have had it (it came
            # while the socket was down, or before the page counted itself in): it gets it again.
            m.send(v.pending)
        v.dirty.set()

    async def answer(self, m: Participant, msg: protocol.MediaAnswer) -> None:
        v = self.viewers.get(m.id)
        if v is not None and msg.offer is not None and msg.offer != v.offer_id:
            return  # a late answer to an offer already replaced: Janus waits for the newer one
        if m.media is None or v is None or not v.offered:
            if v is None or msg.offer is None:
                m.send(protocol.MediaError(code="no_offer", message="there is no subscriber offer to answer"))
            return  # (else the same answer twice: the offer went out twice)
        try:
            sdp = keep_candidates(msg.sdp, self.room.node.candidate_networks)
            await asyncio.wait_for(m.media.subscriber.start(sdp, trickle=msg.trickle), MEDIA_TIMEOUT)
        except Exception as exc:
            log.warning("starting a subscription failed: %s", type(exc).__name__)
            m.send(protocol.MediaError(code="subscribe_failed", message="the media server refused"))
        finally:
            v.offered = False
            v.answered.set()

    def ice_restart(self, m: Participant) -> None:
        v = self._viewer(m)
        v.restart = True
        v.dirty.set()

    def forget(self, m: Participant) -> None:
        """``m``'s media is closed: its worker stops; others stop receiving it at their next update."""
        v = self.viewers.pop(m.id, None)
        if v is not None and v.task is not None:
            v.task.cancel()
        self.speakers.forget(m)
        self.changed()

    def close(self) -> None:
        for m_id in list(self.viewers):
            v = self.viewers.pop(m_id)
            if v.task is not None:
                v.task.cancel()

    # --- the worker ----------------------------------------------------------------------------------

    def _viewer(self, m: Participant) -> Viewer:
        v = self.viewers.get(m.id)
        if v is None or v.m is not m:
            v = self.viewers[m.id] = Viewer(m)
            v.task = self.room.node.spawn(self._work(v), name="subscription")
        return v

    async def _work(self, v: Viewer) -> None:
        failures = 0
        while v.m.state == "joined":
            await v.dirty.wait()
            v.dirty.clear()
            try:
                await self._reconcile(v)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # A feed announced a moment ago may not be subscribable yet, one gone a moment ago may
                # still be in the room's state: try again shortly, a few times, before telling the page.
                failures += 1
                log.warning("updating a subscription failed: %s %s", type(exc).__name__,
                            getattr(exc, "reason", ""))  # Janus's reason names no secret
                if failures <= RETRIES:
                    self.room.node.c.clock.call_later(RETRY_AFTER, v.dirty.set)
                else:
                    failures = 0
                    v.m.send(protocol.MediaError(code="subscribe_failed", message="the media server refused"))

    async def _reconcile(self, v: Viewer) -> None:
        media = v.m.media
        if media is None:
            return
        sub = media.subscriber
        if v.stale and v.media is media:  # its PeerConnection is gone, or the page never answered
            await asyncio.wait_for(sub.close(), MEDIA_TIMEOUT)
        if v.media is not media or v.stale:  # new media (first time, after media.reset), or a new handle
            self._bind(v, media)
        while v.janus_offers:  # Janus renegotiated by itself (a publisher left): answer that first
            if not await self._offer(v, v.janus_offers.pop(0)):
                return
        if v.restart and sub.handle is not None:
            v.restart = False
            if not await self._offer(v, await asyncio.wait_for(sub.restart(), MEDIA_TIMEOUT)):
                return
        v.restart = False
        videos, direct, slot_targets = self._wanted(v)
        # Slots whose publisher left went inactive: they are slots no more.
        live_mids = {s.mid for s in sub.active}
        v.slots = [mid for mid in v.slots if mid in live_mids]
        v.slot_of = {mid: v.slot_of[mid] for mid in v.slots if mid in v.slot_of}
        held = {(s.feed, s.feed_mid): s.mid for s in sub.active if s.mid not in v.slots
                and s.feed is not None and s.feed_mid is not None}
        wanted = set(videos) | direct
        unsubscribe: list[dict[str, Any]] = [{"sub_mid": mid} for key, mid in held.items() if key not in wanted]
        subscribe: list[dict[str, Any]] = [{"feed": f, "mid": mid, **layer_options(videos.get((f, mid)))}
                                           for (f, mid) in sorted(wanted - set(held))]
        switches: list[dict[str, Any]] = []
        new_slots: list[tuple[str, Key]] = []
        for i, target in enumerate(slot_targets):
            key = self.audio_of(target)
            if i < len(v.slots):
                mid = v.slots[i]
                if target is None or key is None:
                    unsubscribe.append({"sub_mid": mid})
                elif v.slot_of.get(mid) != target:
                    switches.append({"feed": key[0], "mid": key[1], "sub_mid": mid, "_to": target})
            elif target is not None and key is not None:
                new_slots.append((target, key))
                subscribe.append({"feed": key[0], "mid": key[1]})
        for mid in v.slots[len(slot_targets):]:
            unsubscribe.append({"sub_mid": mid})
        gone = {u["sub_mid"] for u in unsubscribe}
        v.slots = [mid for mid in v.slots if mid not in gone]
        if switches:
            await asyncio.wait_for(sub.switch([{k: x[k] for k in ("feed", "mid", "sub_mid")} for x in switches]),
                                   MEDIA_TIMEOUT)
            for x in switches:  # only now: a switch that failed is tried again at the next pass
                v.slot_of[x["sub_mid"]] = x["_to"]
        offered = False
        if subscribe or (unsubscribe and sub.handle is not None):
            # Janus may put a new stream on an m-line freed by this very update: a new slot is the
            # m-line carrying its stream that is neither a kept stream nor another slot.
            kept = {mid for key, mid in held.items() if key in wanted}
            offer = await asyncio.wait_for(sub.update(subscribe, unsubscribe), MEDIA_TIMEOUT)
            # The new videos came with their layers (the subscribe items): no configure for them.
            for s in sub.active:
                if s.type != "video" or s.mid in kept or s.feed is None or s.feed_mid is None:
                    continue
                substream = videos.get((s.feed, s.feed_mid))
                if substream is not None and v.layers is not None:
                    v.layers.subscribed((s.mid, s.feed, s.feed_mid), substream)
            for target, key in new_slots:
                found = next((s.mid for s in sub.active if s.mid not in kept and (s.feed, s.feed_mid) == key
                              and s.mid not in v.slots), None)
                if found is not None:
                    v.slots.append(found)
                    v.slot_of[found] = target
            if offer is not None:
                if not await self._offer(v, offer):
                    return
                offered = True
        if switches and not offered:  # the page learns who a switched slot carries now
            v.m.send(protocol.MediaStreams(streams=self._streams(v)))
        await self._configure_layers(v, videos)

    def _bind(self, v: Viewer, media: MediaParticipantPort) -> None:
        """The viewer's state is of ``media``'s subscriber from now on, starting empty."""
        sub = media.subscriber
        v.media, v.slots, v.slot_of, v.janus_offers = media, [], {}, []
        v.layers = ViewerLayers(self.room.node.c.clock, v.dirty.set)
        v.stale, v.offered, v.pending = False, False, None
        sub.on_offer = lambda sdp: self._janus_offered(v, sdp)
        sub.on_substream = v.layers.heard
        sub.on_hangup = lambda: self._hung_up(v, media)

    def restore(self, m: Participant, view: dict[str, Any]) -> None:
        """``m``'s media was carried on from a dead owner (signalling/carry.py): the viewer goes on from
        what that owner knew (``view``: its tiles, slots and last offer), so nothing changes for the page
        until it says otherwise."""
        media = m.media
        if media is None:
            return
        v = self._viewer(m)
        self._bind(v, media)
        live = {s.mid for s in media.subscriber.active}
        tiles, slot_of = view.get("tiles"), view.get("slot_of")
        if isinstance(tiles, dict):
            v.tiles = {int(f): int(w) for f, w in tiles.items() if str(f).isdigit() and isinstance(w, int)}
        v.low_bandwidth = bool(view.get("low"))
        v.slots = [mid for mid in view.get("slots") or [] if isinstance(mid, str) and mid in live]
        if isinstance(slot_of, dict):
            v.slot_of = {mid: str(who) for mid, who in slot_of.items() if mid in v.slots}
        offer = view.get("offer")
        v.offer_id = offer if isinstance(offer, int) else 0

    def _janus_offered(self, v: Viewer, sdp: str) -> None:
        v.janus_offers.append(sdp)
        v.dirty.set()

    def _hung_up(self, v: Viewer, media: MediaParticipantPort) -> None:
        """Janus closed the subscriber's PeerConnection: the next pass joins a new handle (a new offer,
        which the page answers on a new connection)."""
        if v.media is media:
            v.stale = True
            v.dirty.set()

    async def _offer(self, v: Viewer, sdp: str) -> bool:
        """Send an offer and wait (bounded) for the page's answer: one renegotiation at a time. A page
        that never answers gets a new subscription, since Janus would hold every later update until
        that answer. True once answered."""
        v.answered.clear()
        v.offered = True
        v.offer_id += 1
        v.pending = protocol.MediaOffer(offer=v.offer_id, sdp=sdp, streams=self._streams(v))
        v.m.send(v.pending)
        try:
            await asyncio.wait_for(v.answered.wait(), ANSWER_TIMEOUT)
            v.pending = None
            return True
        except TimeoutError:
            if v.m.state != "joined":
                return False
        log.info("a subscriber offer got no answer in %ss: subscribing afresh", ANSWER_TIMEOUT)
        v.offered, v.pending, v.stale = False, None, True
        v.dirty.set()
        return False

    async def _configure_layers(self, v: Viewer, videos: dict[Key, int | None]) -> None:
        media, layers = v.media, v.layers
        if media is None or layers is None:
            return
        active = {(s.mid, s.feed, s.feed_mid) for s in media.subscriber.active
                  if s.type == "video" and s.feed is not None and s.feed_mid is not None}
        changes = layers.changes(videos, active)
        if changes:
            streams = [{"mid": key[0], **layer_options(n)} for key, n in changes.items()]
            await asyncio.wait_for(media.subscriber.configure(streams), MEDIA_TIMEOUT)
            layers.configured_now(changes)  # only once Janus took them: a refused configure is asked again

    # --- what a viewer should receive -----------------------------------------------------------------

    def _wanted(self, v: Viewer) -> tuple[dict[Key, int | None], set[Key], tuple[str | None, ...]]:
        """Videos (with the substream each should get; None for screens), directly subscribed audio, and
        what each audio slot should carry."""
        room, s = self.room, self.room.node.c.settings
        videos: dict[Key, int | None] = {}
        for feed, width in v.tiles.items():
            owner = room.feed_owner(feed)
            if owner is None or owner is v.m or not room.cascade.carries(v.m, feed):
                continue
            screen = owner.feeds.get("screen") == feed
            if not screen and not owner.camera:
                continue  # a camera turned off sends nothing worth a stream (and frees its place)
            for mid in self.speakers.mids(feed, "video"):
                videos[(feed, mid)] = None if screen else substream_for(width, low_bandwidth=v.low_bandwidth)
        people = room.joined()
        senders = [x.id for x in people if x.mic and (key := self.audio_of(x.id)) is not None
                   and room.cascade.carries(v.m, key[0])]
        presenter = next((x.id for x in people if "screen" in x.feeds), None)
        previous = [v.slot_of.get(mid, "") for mid in v.slots]
        now = room.node.c.clock.now().timestamp()
        spoke_at = {**self.speakers.spoke_at, **{x: now for x in self.speakers.talking}}  # talking: most recent
        choice = choose_audio(v.m.id, senders, spoke_at, [x.id for x in people if x.is_host],
                              presenter, all_up_to=s.audio_all_up_to, slots=s.audio_slots, previous=previous)
        direct = {key for key in (self.audio_of(x) for x in choice.direct) if key is not None}
        return videos, direct, choice.slots

    def audio_of(self, participant_id: str | None) -> Key | None:
        """The camera feed's audio stream of a participant (mic and camera are one publisher)."""
        m = self.room.participants.get(participant_id or "")
        feed = m.feeds.get("camera") if m is not None and m.state == "joined" else None
        if feed is None:
            return None
        mids = self.speakers.mids(feed, "audio")
        return (feed, mids[0]) if mids else None

    def _streams(self, v: Viewer) -> list[protocol.Stream]:
        media = v.media
        if media is None:
            return []
        out: list[protocol.Stream] = []
        for st in media.subscriber.streams:
            if st.type not in ("audio", "video"):
                continue
            out.append(self._stream(v, st))
        return out

    def _stream(self, v: Viewer, st: SubscribedStream) -> protocol.Stream:
        owner = self.room.feed_owner(st.feed) if st.feed is not None else None
        kind = None
        if owner is not None:
            kind = "screen" if owner.feeds.get("screen") == st.feed else "camera"
        return protocol.Stream(mid=st.mid, type="audio" if st.type == "audio" else "video",
                               participant_id=owner.id if owner is not None else None,
                               feed=st.feed if owner is not None else None, kind=kind, slot=st.mid in v.slots)

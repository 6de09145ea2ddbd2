"""The room's door: a hello arrives (new, or resuming), the rules of domain/lobby.py say whether the
participant enters, waits or is refused, and hosts admit or deny who waits. Every method runs with
the room lock held."""

from __future__ import annotations

import hmac
import secrets
import uuid
from typing import TYPE_CHECKING

from ..actions import meetings
from ..domain import browsers
from ..domain import lobby as rules
from . import ice, protocol
from .connection import Connection
from .participant import Participant

if TYPE_CHECKING:
    from .room import Room


class Lobby:
    def __init__(self, room: Room) -> None:
        self.room = room

    async def arrive(self, conn: Connection, hello: protocol.Hello) -> Participant | None:
        """Who ``hello`` is, and where they go; None when they were refused (and told)."""
        room = self.room
        if hello.resume is not None:
            old = room.participants.get(hello.resume.participant_id)
            if old is not None and old.present() and _resumes(old, hello.resume.resume_token):
                adopted = not old.resume_token  # from the node that owned the meeting before
                if adopted:
                    await self._come_back(old, hello)
                await self._resume(old, conn)
                if adopted and old.state == "joined":
                    servers = ice.admitted_servers(room.node, old)
                    if servers is not None:
                        old.send(servers)
                    if room.node.has_media and old.media is None:  # not carried on (carry.py): media.reset,
                        await room.relay.reopen([old])  # publish and subscribe again, here
                return old
        is_host = hello.host_token is not None and hmac.compare_digest(
            hello.host_token.encode(), room.host_token.encode())
        m = Participant(id=str(uuid.uuid4()), name=hello.name, is_host=is_host,
                        resume_token=secrets.token_urlsafe(24), mic=hello.mic, camera=hello.camera,
                        since=room.node.c.clock.now(), conn=conn)
        refusal = rules.refusal_on_arrival(is_host=is_host, locked=room.locked)
        if refusal is not None:
            conn.send(protocol.Denied(reason=refusal))
            conn.close(protocol.CLOSE_DENIED)
            return None
        removed_before = await self._identify_browser(m, hello.browser_id)
        wait = rules.lobby_reason(is_host=is_host, approval=room.approval, host_present=room.hosts_present(),
                                  removed_before=removed_before)
        if wait is not None and self._full():
            conn.send(protocol.Denied(reason="lobby_full"))
            conn.close(protocol.CLOSE_DENIED)
            return None
        room.participants[m.id] = m
        if wait is not None:
            self._knock(m, wait)
            return m
        conn.send(room.welcome(m, resumed=False, entering=True))  # admitted (or denied) follows
        await room.enter(m)
        if m.state == "joined" and is_host:
            room.lobby_feed.full_list(m)
            await self._host_arrived()
        return m if m.present() else None

    def _full(self) -> bool:
        room = self.room
        s = room.node.c.settings
        return rules.lobby_is_full(waiting=len(room.waiting()), joined=len(room.joined()),
                                   max_participants=s.max_participants, max_lobby=s.max_lobby)

    async def _identify_browser(self, m: Participant, signed: str | None) -> bool:
        """Give ``m`` its browser's id (the one it brought, if this server signed it, else a new one);
        True when a host removed a guest of that browser earlier in the room's running session."""
        secret = self.room.node.c.secret
        key = browsers.verified_browser_key(secret, signed)
        if key is None:
            m.browser, m.browser_token = browsers.new_browser_id(secret)
            return False  # a fresh id has no past
        m.browser, m.browser_token = key, signed or ""
        return not m.is_host and await meetings.was_removed(self.room.node.c, self.room.room_id, key)

    async def _resume(self, old: Participant, conn: Connection) -> None:
        """The same participant on a new socket, within the grace period: nobody else notices."""
        room = self.room
        if old.grace is not None:
            old.grace.cancel()
            old.grace = None
        if old.conn is not None and old.conn is not conn:
            old.conn.close(protocol.CLOSE_REPLACED)
        old.conn = conn
        conn.send(room.welcome(old, resumed=True))
        if old.state == "joined":
            video_allowed = rules.may_send_video(video_senders=room.video_senders(),
                                                 max_video_senders=room.node.c.settings.max_video_senders,
                                                 already_sending=bool(old.video_kinds))
            conn.send(await room.admitted(old, video_allowed=video_allowed))
            if old.is_host:
                room.lobby_feed.full_list(old)
        else:
            conn.send(protocol.Lobby(reason=old.lobby_reason, host_present=room.hosts_present()))

    async def _come_back(self, m: Participant, hello: protocol.Hello) -> None:
        """A participant adopted from the previous owner (handover.adopt) resumes here: what its browser
        says of itself, and media of this node's (``media.reset``: the browser publishes and subscribes
        again). The others see it updated, not joined: it never left."""
        assert hello.resume is not None
        m.resume_token = hello.resume.resume_token
        m.mic, m.camera = hello.mic, hello.camera
        secret = self.room.node.c.secret
        if hello.browser_id and browsers.verified_browser_key(secret, hello.browser_id) == m.browser:
            m.browser_token = hello.browser_id
        self.room.broadcast(protocol.ParticipantUpdated(participant=m.view()), exclude=m)

    async def approval_changed(self) -> None:
        """The room's approval level changed while people wait (a live PATCH): whoever the new level
        lets in at once enters; whoever now waits for another reason is told it (the lock is held).
        Nobody already in the meeting is moved out by a stricter level."""
        room = self.room
        changed = False
        for waiting in room.waiting():
            if waiting.lobby_reason == "removed_before":
                continue  # a host's decision, whatever the level
            reason = rules.lobby_reason(is_host=False, approval=room.approval, host_present=room.hosts_present())
            if reason is None:
                await room.enter(waiting)
                changed = True
            elif reason != waiting.lobby_reason:
                waiting.lobby_reason = reason
                waiting.send(protocol.Lobby(reason=reason, host_present=room.hosts_present()))
                changed = True
        if changed:
            room.tell_hosts_lobby()

    def _knock(self, m: Participant, reason: rules.LobbyReason) -> None:
        m.lobby_reason = reason
        m.send(self.room.welcome(m, resumed=False))
        m.send(protocol.Lobby(reason=reason, host_present=self.room.hosts_present()))
        self.room.tell_hosts_lobby()

    async def _host_arrived(self) -> None:
        for waiting in self.room.waiting():
            if rules.released_by_host(waiting.lobby_reason):
                await self.room.enter(waiting)
        self.hosts_changed()
        self.room.tell_hosts_lobby()

    def hosts_changed(self) -> None:
        """A host arrived, or the last one left: whoever waits for a host's decision is told."""
        present = self.room.hosts_present()
        for waiting in self.room.waiting():
            if not rules.released_by_host(waiting.lobby_reason):
                waiting.send(protocol.Lobby(reason=waiting.lobby_reason, host_present=present))

    def _waiting(self, host: Participant, participant_id: str) -> Participant | None:
        target = self.room.participants.get(participant_id)
        if target is None or target.state != "lobby":
            host.send(protocol.Error(code="not_waiting", message="that participant is not waiting"))
            return None
        return target

    async def admit(self, host: Participant, participant_id: str) -> None:
        target = self._waiting(host, participant_id)
        if target is not None:
            await self.room.enter(target)
            self.room.tell_hosts_lobby()

    async def deny(self, host: Participant, participant_id: str) -> None:
        target = self._waiting(host, participant_id)
        if target is not None:
            self.room.refuse(target, "host_denied")
            self.room.tell_hosts_lobby()

    async def admit_all(self) -> None:
        for target in self.room.waiting():
            await self.room.enter(target)
        self.room.tell_hosts_lobby()


def _resumes(m: Participant, token: str) -> bool:
    if m.resume_token:
        return hmac.compare_digest(m.resume_token.encode(), token.encode())
    return rules.resume_matches(m.resume_digest, token)  # adopted: only the digest is known here

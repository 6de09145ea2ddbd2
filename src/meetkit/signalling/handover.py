"""A meeting changing nodes in a deployment (issue 12, docs/scale-out.md): the node that takes it over
adopts who the database says is in it; the node that lost it lets go without writing anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..actions import meetings
from . import carry, protocol
from .participant import Participant

if TYPE_CHECKING:
    from .room import Room


async def adopt(room: Room) -> None:
    """``room``'s node just took the meeting over from another (which died, or lost its lease): the
    database says who is in the running session. Each is here as dropped, within the resume grace
    (their browsers resume here and get new media, ``lobby.py``); whoever does not come back leaves
    when it runs out. Who waited in the old owner's lobby knocks again. The room lock is held."""
    session_id, people = await meetings.present_in_running_session(room.node.c, room.room_id)
    if session_id is None:
        return
    room.session_id = session_id
    await room.watch.restore()
    await room.captions.restore()
    for row in people:
        if row.id in room.participants:
            continue
        m = Participant(id=row.id, name=row.name, is_host=row.is_host, resume_token="", mic=False,
                        camera=False, since=row.joined_at, browser=row.browser_id, resume_digest=row.resume_digest)
        m.move_to("joined", row.joined_at)
        room.participants[m.id] = m
        room.start_grace(m)
    if room.node.cards is not None and room.node.has_media:  # their Janus sessions, claimed
        await carry.carry_on(room, room.node.cards)


async def abandon(room: Room) -> None:
    """Another node owns the meeting now: everyone here is sent to it (close 4503, their browsers
    reconnect and resume there) and this node lets go of the media, writing nothing: the session and
    its participants are the new owner's."""
    async with room.lock:
        carried = room.node.cards is not None  # the new owner claims the media: nothing of it is touched
        for x in list(room.participants.values()):
            if x.conn is not None:
                x.conn.close(protocol.CLOSE_MOVED)
            if x.grace is not None:
                x.grace.cancel()
            if x.state == "joined" and not carried:
                await room.relay.close_media(x)
            x.move_to("gone")
        room.session_id = None
        await room.captions.let_go()  # (before the media goes: our forwards on its Janus are stopped)
        if carried:
            await room.relay.let_go_media()
        room.participants.clear()
        room.recording.forget()
        room.watch.forget()
        if not carried:
            await room.relay.destroy_media_room()
        room.forget_if_empty()

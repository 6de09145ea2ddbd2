"""The signal handler: one table from a client message type to the named method that handles it, and
the rules every message passes first (ping, a second hello, leave, not yet admitted, host only).

The handler holds no state of its own: it acts on the room and the participant it is given
(LiveKit's ``signalhandler.go``: transport, dispatch and behaviour in three places)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..actions import meetings
from ..domain.chat_export import ExportedMessage, export_text
from . import protocol
from .participant import Participant
from .room import Room, chat_view

Handler = Callable[[Room, Participant, Any], Awaitable[None]]

# The messages only a host may send; anyone else gets ``error`` code ``forbidden``.
_HOST_ONLY: tuple[type[Any], ...] = (
    protocol.HostAdmit, protocol.HostDeny, protocol.HostAdmitAll, protocol.HostMute, protocol.HostMuteAll,
    protocol.HostRemove, protocol.HostLock, protocol.HostEnd, protocol.HostChatExport, protocol.HostRecord,
    protocol.HostBoardClear, protocol.HostBoardLock, protocol.WatchStart, protocol.CaptionsStart,
    protocol.CaptionsStop,
)
HOST_ONLY = frozenset(_HOST_ONLY)


async def handle(room: Room, m: Participant, msg: protocol.AnyClientMessage) -> None:
    if isinstance(msg, protocol.Ping):
        m.send(protocol.Pong(id=msg.id, server_time=room.node.c.clock.now().timestamp() * 1000))
        return
    if isinstance(msg, protocol.Hello):
        m.send(protocol.Error(code="bad_message", message="hello was already sent"))
        return
    if isinstance(msg, protocol.Leave):
        await leave(room, m)
        return
    if m.state != "joined":
        m.send(protocol.Error(code="not_joined", message="wait until you are admitted"))
        return
    handler = HANDLERS.get(type(msg))
    if handler is None:
        m.send(protocol.Error(code="unknown_type", message="unknown message type"))
        return
    if type(msg) in HOST_ONLY and not m.is_host:
        m.send(protocol.Error(code="forbidden", message="only the host may do that"))
        return
    await handler(room, m, msg)


async def leave(room: Room, m: Participant) -> None:
    async with room.lock:
        await room.leave(m, "left")
    if m.conn is not None:
        m.conn.close(1000)


# --- in the meeting ---------------------------------------------------------------------------------


async def chat(room: Room, m: Participant, msg: protocol.ChatSend) -> None:
    # The room's live value (a PATCH of available_features reaches it through RoomUpdated): the UI
    # hides the chat too, but only this refusal keeps a hand-made chat.send out.
    if not room.chat_available:
        m.send(protocol.Error(code="chat_unavailable", message="this room has no chat"))
        return
    limit = room.node.c.settings.max_chat_length
    if len(msg.text) > limit or room.session_id is None:
        m.send(protocol.Error(code="bad_message", message=f"chat text is at most {limit} characters"))
        return
    line = await meetings.do_post_chat(room.node.c, room.session_id, m.id, m.name, msg.text, is_host=m.is_host,
                                      fence=room.fence)
    view = chat_view(line)
    room.broadcast(protocol.ChatMessageOut(**view.model_dump()))


# State changes reach others coalesced (signalling/coalesce.py): a burst of them costs nobody's queue.
async def hand(room: Room, m: Participant, msg: protocol.Hand) -> None:
    m.hand = msg.raised
    room.updates.changed(m)


async def set_name(room: Room, m: Participant, msg: protocol.SetName) -> None:
    """Others see the new name at once (chat lines already sent keep the name they were sent with)."""
    if msg.name == m.name:
        return
    await meetings.do_rename(room.node.c, m.id, msg.name, fence=room.fence)
    m.name = msg.name
    room.updates.changed(m)


async def talking(room: Room, m: Participant, msg: protocol.Talking) -> None:
    # With a media server, talking comes from Janus's audio levels (signalling/speakers.py), not from
    # what browsers claim.
    if not room.node.has_media:
        room.updates.talking(m, msg.talking)


async def media_state(room: Room, m: Participant, msg: protocol.MediaState) -> None:
    # The camera also holds (or frees) a video-sender place: publishing checks the limit.
    await room.publishing.camera_state(m, msg.camera)
    m.mic = msg.mic
    room.updates.changed(m)
    room.captions.changed()  # a microphone turned on is heard at once, one turned off no more


async def publish(room: Room, m: Participant, msg: protocol.MediaPublish) -> None:
    await room.publishing.publish(m, msg)


async def candidate(room: Room, m: Participant, msg: protocol.MediaCandidate) -> None:
    await room.publishing.candidate(m, msg)


async def unpublish(room: Room, m: Participant, msg: protocol.MediaUnpublish) -> None:
    await room.publishing.unpublish(m, msg.kind)


async def view(room: Room, m: Participant, msg: protocol.MediaView) -> None:
    room.subscriptions.view(m, msg)


async def answer(room: Room, m: Participant, msg: protocol.MediaAnswer) -> None:
    await room.subscriptions.answer(m, msg)


async def ice_restart(room: Room, m: Participant, msg: protocol.MediaIceRestart) -> None:
    room.subscriptions.ice_restart(m)


async def board_get(room: Room, m: Participant, msg: protocol.BoardGet) -> None:
    await room.board.get(m)


async def board_update(room: Room, m: Participant, msg: protocol.BoardUpdate) -> None:
    await room.board.update(m, msg)


async def watch_control(room: Room, m: Participant, msg: protocol.WatchControl) -> None:
    await room.watch.control(m, msg)


async def watch_hand_over(room: Room, m: Participant, msg: protocol.WatchHandOver) -> None:
    await room.watch.hand_over(m, msg)


async def watch_stop(room: Room, m: Participant, msg: protocol.WatchStop) -> None:
    await room.watch.stop(m)


async def watch_get(room: Room, m: Participant, msg: protocol.WatchGet) -> None:
    room.watch.get(m)


# --- host controls ----------------------------------------------------------------------------------


async def admit(room: Room, host: Participant, msg: protocol.HostAdmit) -> None:
    async with room.lock:
        await room.lobby.admit(host, msg.participant_id)


async def deny(room: Room, host: Participant, msg: protocol.HostDeny) -> None:
    async with room.lock:
        await room.lobby.deny(host, msg.participant_id)


async def admit_all(room: Room, host: Participant, msg: protocol.HostAdmitAll) -> None:
    async with room.lock:
        await room.lobby.admit_all()


def _mute(room: Room, host: Participant, target: Participant) -> None:
    target.mic = False
    target.send(protocol.Muted(by=host.id))
    room.updates.changed(target)  # coalesced: host.mute_all repeated does not flood every queue


async def mute(room: Room, host: Participant, msg: protocol.HostMute) -> None:
    target = room.participants.get(msg.participant_id)
    if target is None or target.state != "joined":
        host.send(protocol.Error(code="not_found", message="no such participant"))
        return
    _mute(room, host, target)


async def mute_all(room: Room, host: Participant, msg: protocol.HostMuteAll) -> None:
    for target in room.joined():
        if target is not host:
            _mute(room, host, target)


async def remove(room: Room, host: Participant, msg: protocol.HostRemove) -> None:
    async with room.lock:
        target = room.participants.get(msg.participant_id)
        if target is None or not target.present():
            host.send(protocol.Error(code="not_found", message="no such participant"))
            return
        target.send(protocol.Removed())
        if target.conn is not None:
            target.conn.close(protocol.CLOSE_REMOVED)
        await room.leave(target, "removed")


async def lock(room: Room, host: Participant, msg: protocol.HostLock) -> None:
    room.locked = msg.locked
    room.broadcast(protocol.Locked(locked=msg.locked))


async def end(room: Room, host: Participant, msg: protocol.HostEnd) -> None:
    await room.end_meeting()


async def chat_export(room: Room, host: Participant, msg: protocol.HostChatExport) -> None:
    c = room.node.c
    lines = await meetings.chat_of_session(c, room.session_id, limit=100_000) if room.session_id else []
    views = [chat_view(x) for x in lines]
    text = export_text(ExportedMessage(sent_at=x.sent_at, role=x.role, name=x.name, text=x.text) for x in views)
    host.send(protocol.ChatExport(messages=views, text=text))


async def record(room: Room, host: Participant, msg: protocol.HostRecord) -> None:
    async with room.lock:
        await room.recording.switch(host, msg.active)


async def board_clear(room: Room, host: Participant, msg: protocol.HostBoardClear) -> None:
    await room.board.clear(host)


async def board_lock(room: Room, host: Participant, msg: protocol.HostBoardLock) -> None:
    await room.board.set_read_only(host, msg.read_only)


async def watch_start(room: Room, host: Participant, msg: protocol.WatchStart) -> None:
    await room.watch.start(host, msg)


async def captions_start(room: Room, host: Participant, msg: protocol.CaptionsStart) -> None:
    await room.captions.start(host)


async def captions_stop(room: Room, host: Participant, msg: protocol.CaptionsStop) -> None:
    await room.captions.stop(host)


async def captions_get(room: Room, m: Participant, msg: protocol.CaptionsGet) -> None:
    room.captions.get(m)


HANDLERS: dict[type[protocol.ClientMessage], Handler] = {
    protocol.ChatSend: chat, protocol.Hand: hand, protocol.SetName: set_name, protocol.Talking: talking,
    protocol.MediaState: media_state,
    protocol.MediaPublish: publish, protocol.MediaUnpublish: unpublish, protocol.MediaView: view,
    protocol.MediaAnswer: answer, protocol.MediaIceRestart: ice_restart,
    protocol.MediaCandidate: candidate,
    protocol.HostAdmit: admit, protocol.HostDeny: deny, protocol.HostAdmitAll: admit_all, protocol.HostMute: mute,
    protocol.HostMuteAll: mute_all, protocol.HostRemove: remove, protocol.HostLock: lock, protocol.HostEnd: end,
    protocol.HostChatExport: chat_export, protocol.HostRecord: record,
    protocol.BoardGet: board_get, protocol.BoardUpdate: board_update, protocol.HostBoardClear: board_clear,
    protocol.HostBoardLock: board_lock,
    protocol.WatchStart: watch_start, protocol.WatchControl: watch_control, protocol.WatchHandOver: watch_hand_over,
    protocol.WatchStop: watch_stop, protocol.WatchGet: watch_get,
    protocol.CaptionsStart: captions_start, protocol.CaptionsStop: captions_stop, protocol.CaptionsGet: captions_get,
}

"""Sockets that reach a node which does not own their meeting (issue 12): served there, relayed over
Redis to and from the owner, so a client of the documented socket protocol works on any node.

- The **edge** (the node holding the browser's socket) sends ``LinkOpen`` and then every frame the
  browser sends to the owner's inbox, and writes what comes back into the browser's socket through a
  bounded ``Connection`` (a slow browser is closed 4408 and resumes, as on the owner).
- The **owner** serves a :class:`RelayedSocket` exactly as a local socket (session.py): hello, flow
  limits, the lobby, the meeting. Only the transport differs.
- Each node refreshes a short-lived ``alive`` key; a link whose peer stops refreshing is closed (the
  edge closes the browser 4503, which reconnects; the owner sees the socket drop, and the resume
  grace keeps the participant), so no link outlives a dead node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocketDisconnect
from redis.asyncio import Redis

from ..cluster.channels import Channels
from ..cluster.wire import BATCH, INBOX, LinkClose, LinkFrame, LinkOpen, inbox_channel
from ..config import Settings
from . import protocol
from .connection import Connection, Socket, receive_frame

log = logging.getLogger("meetkit.signalling")

INCOMING_FRAMES = 1000  # frames a relayed socket may hold unread on the owner before it is closed 4429
# Characters in one publish (one frame always goes): far below what Redis lets a subscriber fall behind
# by (client-output-buffer-limit pubsub, 8 MB for 60 s by default) before it cuts it off.
BATCH_BYTES = 1_000_000
OPEN_ANSWER = 5.0  # seconds: an owner that says nothing after LinkOpen never heard it (closed 4503)


def _alive_key(node: str) -> str:
    return f"meetkit:node:{node}:alive"


class RelayedSocket:
    """The owner's end of a relayed socket: what ``session`` needs of a WebSocket."""

    relayed = True
    client = None  # the browser's address is the edge's business (its caps apply there)

    def __init__(self, links: Links, link: str, edge: str) -> None:
        self._links = links
        self.link = link
        self.edge = edge
        self._incoming: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue()
        self._closed = False

    async def accept(self) -> None:
        pass

    async def send_text(self, data: str) -> None:
        if self._closed:
            raise WebSocketDisconnect(1006)
        await self._links.say(self.edge, LinkFrame(link=self.link, text=data))

    async def receive(self) -> Mapping[str, Any]:
        return await self._incoming.get()

    async def close(self, code: int = 1000) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            await self._links.say(self.edge, LinkClose(link=self.link, code=code))

    def heard(self, message: LinkFrame | LinkClose) -> None:
        if isinstance(message, LinkClose):
            self._incoming.put_nowait({"type": "websocket.disconnect", "code": message.code})
        elif self._incoming.qsize() >= INCOMING_FRAMES:
            log.warning("a relayed socket sent more than the owner could read; closing it")
            self._incoming.put_nowait({"type": "websocket.disconnect", "code": protocol.CLOSE_RATE_LIMITED})
            self._links.spawn(self.close(protocol.CLOSE_RATE_LIMITED))
        elif message.text is None:
            self._incoming.put_nowait({"type": "websocket.receive", "bytes": b""})
        else:
            self._incoming.put_nowait({"type": "websocket.receive", "text": message.text})

    def peer_gone(self) -> None:
        self._closed = True
        self._incoming.put_nowait({"type": "websocket.disconnect", "code": 1006})


@dataclass
class _Outbox:
    """What this node has to say to one other node, waiting for the publish under way."""

    items: list[str] = field(default_factory=list)
    waiting: list[asyncio.Future[None]] = field(default_factory=list)
    flusher: asyncio.Task[None] | None = None


@dataclass
class _Edge:
    conn: Connection
    owner: str
    owner_closed: bool = False
    answered: asyncio.Event = field(default_factory=asyncio.Event)  # the owner said something


Serve = Callable[[RelayedSocket, str], Awaitable[None]]


class Links:
    def __init__(self, channels: Channels, redis: Redis, node_id: str, settings: Settings) -> None:
        self._channels = channels
        self._redis = redis
        self.node_id = node_id
        self._settings = settings
        self._edges: dict[str, _Edge] = {}
        self._owned: dict[str, RelayedSocket] = {}
        self._outboxes: dict[str, _Outbox] = {}
        self._serve: Serve | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._period = settings.room_lease_seconds / 3
        channels.on(inbox_channel(node_id), self._heard)
        channels.on_reconnect(self._cut_all)

    def serve_with(self, serve: Serve) -> None:
        """How the owner serves a relayed socket (session.py), set by the composition root."""
        self._serve = serve

    def spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            await work

        task = asyncio.create_task(run(), name="link")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def say(self, node: str, message: LinkOpen | LinkFrame | LinkClose) -> None:
        """Sends ``message`` to ``node``'s inbox; returns once it is published. What all links say to one
        node while a publish is under way goes out together in the next one (``LinkBatch``), in order."""
        out = self._outboxes.get(node)
        if out is None:
            out = self._outboxes[node] = _Outbox()
        done = asyncio.get_running_loop().create_future()
        out.items.append(message.model_dump_json())
        out.waiting.append(done)
        if out.flusher is None or out.flusher.done():
            out.flusher = asyncio.create_task(self._flush(node, out), name="links-flush")
        await done

    async def _flush(self, node: str, out: _Outbox) -> None:
        while out.items:
            n, size = 0, 0
            while n < min(len(out.items), BATCH) and (n == 0 or size + len(out.items[n]) <= BATCH_BYTES):
                size += len(out.items[n])
                n += 1
            items, out.items = out.items[:n], out.items[n:]
            waiting, out.waiting = out.waiting[:n], out.waiting[n:]
            try:  # the items are JSON already: the batch is put together as text, not parsed again
                await self._channels.publish(inbox_channel(node), '{"op":"batch","items":[' + ",".join(items) + "]}")
            except Exception as exc:
                for w in waiting:
                    if not w.done():
                        w.set_exception(exc)
                continue
            for w in waiting:
                if not w.done():
                    w.set_result(None)

    async def alive(self, node: str) -> bool:
        return bool(await self._redis.exists(_alive_key(node)))

    # -- the edge -----------------------------------------------------------------------------------

    async def relay(self, ws: Socket, owner: str, code: str, *, first: str | None = None) -> None:
        """Relays the (accepted) browser socket ``ws`` to ``owner`` until either side closes it.
        ``first``: a frame this node already read from it (the hello)."""
        link = secrets.token_hex(8)
        s = self._settings
        edge = self._edges[link] = _Edge(Connection(ws, max_frames=s.socket_send_queue_frames,
                                                    max_bytes=s.socket_send_queue_bytes), owner)
        try:
            await self.say(owner, LinkOpen(link=link, edge=self.node_id, code=code))
            if first is not None:
                await self.say(owner, LinkFrame(link=link, text=first))
            self.spawn(self._expect_answer(edge))
            while True:
                raw = await receive_frame(ws)
                await self.say(owner, LinkFrame(link=link, text=raw))
        except WebSocketDisconnect:
            pass
        except Exception as exc:  # Redis went away mid-relay: the browser reconnects
            log.warning("a relayed socket failed: %s", type(exc).__name__)
            edge.conn.close(protocol.CLOSE_MOVED)
        finally:
            self._edges.pop(link, None)
            if not edge.owner_closed:
                with contextlib.suppress(Exception):
                    await self.say(owner, LinkClose(link=link, code=1001))
            edge.conn.close(1000)
            await edge.conn.drain()

    async def _expect_answer(self, edge: _Edge) -> None:
        try:
            await asyncio.wait_for(edge.answered.wait(), OPEN_ANSWER)
        except TimeoutError:
            log.warning("the owner of a relayed socket did not answer; the browser reconnects")
            edge.conn.close(protocol.CLOSE_MOVED)

    def _cut_all(self) -> None:
        """Redis went away and came back: frames of every link may be lost both ways, so every link
        is closed; the browsers resume (the edge closes them 4503, the owner sees them drop)."""
        if self._edges or self._owned:
            log.warning("Redis came back: closing %d relayed socket(s) to resume them",
                        len(self._edges) + len(self._owned))
        for edge in list(self._edges.values()):
            edge.conn.close(protocol.CLOSE_MOVED)
        for owned in list(self._owned.values()):
            owned.peer_gone()

    # -- messages from other nodes ------------------------------------------------------------------

    async def _heard(self, data: bytes) -> None:
        for message in INBOX.validate_json(data).items:
            self._hear(message)

    def _hear(self, message: LinkOpen | LinkFrame | LinkClose) -> None:
        if isinstance(message, LinkOpen):
            self._open(message)
            return
        edge = self._edges.get(message.link)
        if edge is not None:  # the owner speaks to the browser
            edge.answered.set()
            if isinstance(message, LinkClose):
                edge.owner_closed = True
                edge.conn.close(message.code)
            elif message.text is not None:
                edge.conn.send(message.text)
            return
        owned = self._owned.get(message.link)
        if owned is not None:  # the browser speaks to the owner
            owned.heard(message)

    def _open(self, message: LinkOpen) -> None:
        if self._serve is None:
            return
        remote = self._owned[message.link] = RelayedSocket(self, message.link, message.edge)
        serve = self._serve

        async def run() -> None:
            try:
                await serve(remote, message.code)
            finally:
                self._owned.pop(message.link, None)
                await remote.close(1000)

        self.spawn(run())

    # -- liveness -----------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._beat()
        self._watcher = asyncio.create_task(self._watch(), name="links-watch")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await self._redis.delete(_alive_key(self.node_id))

    async def _beat(self) -> None:
        await self._redis.set(_alive_key(self.node_id), "1", px=int(self._period * 3000))

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._period)
            try:
                await self._beat()
                await self.check_peers()
            except Exception as exc:
                log.warning("links could not be checked: %s", type(exc).__name__)

    async def check_peers(self) -> None:
        """Closes the links whose peer node stopped refreshing its alive key."""
        peers = {e.owner for e in self._edges.values()} | {o.edge for o in self._owned.values()}
        for peer in peers:
            if await self.alive(peer):
                continue
            log.warning("node %s is gone: closing the sockets relayed with it", peer)
            for edge in [e for e in self._edges.values() if e.owner == peer]:
                edge.conn.close(protocol.CLOSE_MOVED)
            for owned in [o for o in self._owned.values() if o.edge == peer]:
                owned.peer_gone()

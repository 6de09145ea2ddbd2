"""Janus sessions and plugin handles, and the errors of the Janus client (media/janus.py).

A :class:`JanusSession` owns handles and is kept alive by its client; a :class:`JanusHandle` is one
attached plugin: requests and messages to it, its unsolicited events to ``on_event``, and ``on_closed``
once it is gone (detached, hung up for good, or the connection lost).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .janus import JanusClient

log = logging.getLogger("meetkit.media.janus")

JsonObject = dict[str, Any]
EventCallback = Callable[["JanusHandle", JsonObject], None]
HandleClosedCallback = Callable[["JanusHandle"], None]


class JanusError(Exception):
    """A request Janus (or its plugin) refused, or that got no answer."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}")
        self.code = code
        self.reason = reason


class JanusClosedError(JanusError):
    """The connection to Janus is gone (or could not be opened)."""

    CODE = -1

    def __init__(self, reason: str = "connection to Janus closed") -> None:
        super().__init__(self.CODE, reason)


class JanusTimeoutError(JanusError):
    """Janus did not answer within the request's timeout."""

    CODE = -2

    def __init__(self, reason: str) -> None:
        super().__init__(self.CODE, reason)




class JanusSession:
    """A Janus session: owns handles; kept alive by its client."""

    def __init__(self, client: JanusClient, session_id: int) -> None:
        self.client = client
        self.id = session_id
        self._handles: dict[int, JanusHandle] = {}
        self._destroyed = False

    @property
    def closed(self) -> bool:
        return self._destroyed or self.client.closed

    async def attach(
        self,
        plugin: str,
        *,
        on_event: EventCallback | None = None,
        on_closed: HandleClosedCallback | None = None,
    ) -> JanusHandle:
        if self._destroyed:
            raise JanusClosedError("session destroyed")
        reply = await self.client.call({"janus": "attach", "session_id": self.id, "plugin": plugin})
        handle = JanusHandle(self, int(reply["data"]["id"]), plugin, on_event=on_event, on_closed=on_closed)
        self._handles[handle.id] = handle
        self.client._register_handle(handle)
        return handle

    def adopt(self, handle_id: int, plugin: str, *, on_event: EventCallback | None = None,
              on_closed: HandleClosedCallback | None = None) -> JanusHandle:
        """A handle of a claimed session (``JanusClient.claim_session``), known by its id."""
        handle = JanusHandle(self, handle_id, plugin, on_event=on_event, on_closed=on_closed)
        self._handles[handle.id] = handle
        self.client._register_handle(handle)
        return handle

    async def destroy(self) -> None:
        """Destroy the session (Janus detaches its handles). Idempotent; tolerates a lost connection."""
        if self._destroyed:
            return
        self._destroyed = True
        self.client._forget_session(self.id)
        for handle in list(self._handles.values()):
            handle._forget()
        if self.client.closed:
            return
        try:
            await self.client.call({"janus": "destroy", "session_id": self.id})
        except JanusError as exc:
            log.debug("destroying Janus session %s: %s", self.id, exc)

    def let_go(self) -> None:
        """Forget the session here without a word to Janus (no more keepalives either): another meetkit
        claims it, or Janus times it out."""
        self._destroyed = True
        self.client._forget_session(self.id)
        for handle in list(self._handles.values()):
            handle._forget()

    def _lost(self) -> None:
        """Janus timed the session out: its handles are gone."""
        self._destroyed = True
        self.client._forget_session(self.id)
        for handle in list(self._handles.values()):
            handle._lost()

    def _drop(self, handle_id: int) -> None:
        self._handles.pop(handle_id, None)


class JanusHandle:
    """A handle: one plugin instance (for the videoroom, one publisher or one subscription)."""

    def __init__(
        self,
        session: JanusSession,
        handle_id: int,
        plugin: str,
        *,
        on_event: EventCallback | None = None,
        on_closed: HandleClosedCallback | None = None,
    ) -> None:
        self.session = session
        self.id = handle_id
        self.plugin = plugin
        self.on_event: EventCallback | None = on_event
        """Called (synchronously, from the reader) with every message Janus sends this handle unasked."""
        self.on_closed: HandleClosedCallback | None = on_closed
        """Called once when the handle can no longer be used: connection lost or session timed out."""
        self._detached = False
        self._closed = asyncio.Event()

    @property
    def client(self) -> JanusClient:
        return self.session.client

    @property
    def closed(self) -> bool:
        return self._detached or self._closed.is_set() or self.client.closed

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def request(self, body: JsonObject, *, time_limit: float | None = None) -> JsonObject:
        """A synchronous plugin request (create, destroy, allowed, kick, exists, listparticipants…).

        Returns the plugin's data; raises :class:`JanusError` for a Janus or plugin error.
        """
        reply = await self._send({"janus": "message", "body": body}, wants_event=False, time_limit=time_limit)
        if reply.get("janus") != "success":
            raise JanusError(0, f"unexpected {reply.get('janus')!r} reply to a synchronous request")
        return _plugin_data(reply)

    async def message(
        self, body: JsonObject, jsep: JsonObject | None = None, *, time_limit: float | None = None
    ) -> tuple[JsonObject, JsonObject | None]:
        """An asynchronous plugin request (join, configure, start…): waits for the event that answers it.

        Returns the plugin's data and the JSEP (SDP) Janus attached, if any.
        """
        message: JsonObject = {"janus": "message", "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        reply = await self._send(message, wants_event=True, time_limit=time_limit)
        data = _plugin_data(reply)
        answer_jsep = reply.get("jsep")
        return data, answer_jsep if isinstance(answer_jsep, dict) else None

    async def trickle(self, candidate: JsonObject | None, *, time_limit: float | None = None) -> None:
        """Give Janus one remote candidate (``{candidate, sdpMid?, sdpMLineIndex?}``) of a peer that
        trickles, or ``None``: gathering completed, no more will come."""
        body = {"completed": True} if candidate is None else candidate
        await self._send({"janus": "trickle", "candidate": body}, wants_event=False, time_limit=time_limit)

    async def trickle_completed(self, *, time_limit: float | None = None) -> None:
        """Tell Janus no more remote candidates will come (for peers that trickled)."""
        await self.trickle(None, time_limit=time_limit)

    async def hangup(self, *, time_limit: float | None = None) -> None:
        """Close the handle's PeerConnection but keep the handle."""
        await self._send({"janus": "hangup"}, wants_event=False, time_limit=time_limit)

    async def detach(self) -> None:
        """Detach from the plugin (the plugin forgets this participant). Idempotent; tolerates a lost link."""
        if self._detached:
            return
        self._forget()
        if self.client.closed:
            return
        try:
            await self.client.call({"janus": "detach", "session_id": self.session.id, "handle_id": self.id})
        except JanusError as exc:
            log.debug("detaching Janus handle %s: %s", self.id, exc)

    async def _send(self, message: JsonObject, *, wants_event: bool, time_limit: float | None) -> JsonObject:
        if self._detached:
            raise JanusClosedError("handle detached")
        message = {**message, "session_id": self.session.id, "handle_id": self.id}
        return await self.client.call(message, wants_event=wants_event, time_limit=time_limit)

    def _forget(self) -> None:
        self._detached = True
        self.client._forget_handle(self.id)
        self.session._drop(self.id)

    def _deliver(self, message: JsonObject) -> None:
        if message.get("janus") == "detached":
            self._forget()
        if self.on_event is None:
            return
        try:
            self.on_event(self, message)
        except Exception:
            log.exception("a Janus event callback failed (handle %s)", self.id)

    def _lost(self) -> None:
        if self._closed.is_set():
            return
        self._detached = True
        self._closed.set()
        self.session._drop(self.id)
        if self.on_closed is None:
            return
        try:
            self.on_closed(self)
        except Exception:
            log.exception("a Janus handle-closed callback failed (handle %s)", self.id)


def _plugin_data(reply: JsonObject) -> JsonObject:
    plugindata = reply.get("plugindata")
    if not isinstance(plugindata, dict) or not isinstance(plugindata.get("data"), dict):
        raise JanusError(0, f"Janus reply without plugin data ({reply.get('janus')!r})")
    data: JsonObject = plugindata["data"]
    code = data.get("error_code")
    if code is not None:
        raise JanusError(int(code), str(data.get("error", "plugin error")))
    return data

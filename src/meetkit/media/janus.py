"""A small asyncio client for the Janus WebSocket API (subprotocol ``janus-protocol``).

One :class:`JanusClient` is one WebSocket. Requests carry a ``transaction``; replies are matched by it.
Messages without a pending transaction that name a ``sender`` (a handle id) are delivered to that
handle's ``on_event`` callback: ``webrtcup``, ``media``, ``slowlink``, ``hangup``, ``detached`` and the
plugin's unsolicited ``event``\\ s (for example a videoroom ``kicked``).

Janus times a session out when it hears nothing for ``session_timeout`` (60 s by default), so the
client keeps every session it created alive from one task it owns. Every request is bounded by a
timeout. When the socket closes, every pending request fails with :class:`JanusClosedError`, every
handle is told through ``on_closed`` and the client's close callbacks run.

This module knows the Janus core protocol only; plugin requests are opaque ``body`` objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.typing import Subprotocol

from .janus_session import (
    EventCallback,
    HandleClosedCallback,
    JanusClosedError,
    JanusError,
    JanusHandle,
    JanusSession,
    JanusTimeoutError,
    JsonObject,
)

__all__ = ["EventCallback", "HandleClosedCallback", "JanusClient", "JanusClosedError", "JanusError", "JanusHandle",
           "JanusSession", "JanusTimeoutError", "JsonObject"]

log = logging.getLogger("meetkit.media.janus")

CloseCallback = Callable[[], None]

SUBPROTOCOL = "janus-protocol"
DEFAULT_TIMEOUT = 10.0
KEEPALIVE_INTERVAL = 20.0
_MAX_MESSAGE = 16 * 1024 * 1024  # SDPs with many candidates stay far below this


class _Pending:
    __slots__ = ("future", "wants_event")

    def __init__(self, future: asyncio.Future[JsonObject], wants_event: bool) -> None:
        self.future = future
        # Asynchronous plugin requests are acknowledged first, then answered by an ``event`` with the
        # same transaction. The event may even overtake the ack (they are sent from different Janus
        # threads), so an ack is simply skipped while an event is expected.
        self.wants_event = wants_event


class JanusClient:
    """One WebSocket connection to Janus. Create it with :meth:`connect`."""

    def __init__(
        self,
        ws: ClientConnection,
        *,
        api_secret: str | None,
        token: str | None,
        timeout: float,
        keepalive_interval: float,
    ) -> None:
        self._ws = ws
        self._api_secret = api_secret
        self._token = token
        self.timeout = timeout
        self._keepalive_interval = keepalive_interval
        self._pending: dict[str, _Pending] = {}
        self._sessions: dict[int, JanusSession] = {}
        self._handles: dict[int, JanusHandle] = {}
        self._close_callbacks: list[CloseCallback] = []
        self._closed = asyncio.Event()
        self._tx_prefix = secrets.token_hex(4)
        self._tx_counter = itertools.count(1)
        self._reader = asyncio.create_task(self._read_loop(), name="janus-reader")
        self._keepalive = asyncio.create_task(self._keepalive_loop(), name="janus-keepalive")

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        api_secret: str | None = None,
        token: str | None = None,
        time_limit: float = DEFAULT_TIMEOUT,
        keepalive_interval: float = KEEPALIVE_INTERVAL,
    ) -> JanusClient:
        """Open the WebSocket; raises :class:`JanusClosedError` when Janus cannot be reached."""
        try:
            ws = await connect(
                url,
                subprotocols=[Subprotocol(SUBPROTOCOL)],
                open_timeout=time_limit,
                close_timeout=2,
                max_size=_MAX_MESSAGE,
                compression=None,
                proxy=None,  # Janus is on loopback or a private link: never go through a proxy
            )
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise JanusClosedError(f"cannot connect to Janus at {url}: {exc}") from exc
        if ws.subprotocol != SUBPROTOCOL:
            await ws.close()
            raise JanusClosedError(f"{url} did not accept the {SUBPROTOCOL} subprotocol")
        return cls(ws, api_secret=api_secret, token=token, timeout=time_limit, keepalive_interval=keepalive_interval)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def add_close_callback(self, callback: CloseCallback) -> None:
        """Called once, from the reader task, when the connection closes (for whatever reason)."""
        self._close_callbacks.append(callback)

    async def close(self) -> None:
        """Close the socket (Janus then destroys this connection's sessions). Idempotent."""
        self._keepalive.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._keepalive
        await self._ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        self._connection_lost()

    async def create_session(self) -> JanusSession:
        reply = await self.call({"janus": "create"})
        session = JanusSession(self, int(reply["data"]["id"]))
        self._sessions[session.id] = session
        return session

    async def claim_session(self, session_id: int) -> JanusSession:
        """Take over a session another connection made (Janus keeps it ``reclaim_session_timeout``
        seconds after that connection drops; after, or with 0, it answers 458): its events come here
        from now on, its handles with it (:meth:`JanusSession.adopt`)."""
        await self.call({"janus": "claim", "session_id": session_id})
        session = JanusSession(self, session_id)
        self._sessions[session.id] = session
        return session

    async def info(self) -> JsonObject:
        """Janus's ``info`` (version, plugins, transports): a cheap liveness check."""
        return await self.call({"janus": "info"})

    # -- requests -----------------------------------------------------------------------------------

    async def call(
        self, message: JsonObject, *, wants_event: bool = False, time_limit: float | None = None
    ) -> JsonObject:
        """Send one Janus API message and return its answer (the ``event`` when ``wants_event``).

        Raises :class:`JanusError` for a Janus ``error`` reply; plugin errors are left to the caller.
        """
        if self.closed:
            raise JanusClosedError()
        limit = self.timeout if time_limit is None else time_limit
        transaction = f"{self._tx_prefix}-{next(self._tx_counter)}"
        message = {**message, "transaction": transaction}
        if self._api_secret is not None:
            message["apisecret"] = self._api_secret
        if self._token is not None:
            message["token"] = self._token
        future: asyncio.Future[JsonObject] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = _Pending(future, wants_event)
        try:
            async with asyncio.timeout(limit):
                await self._ws.send(json.dumps(message))
                reply = await future
        except TimeoutError:
            raise JanusTimeoutError(f"no answer to {message['janus']!r} within {limit} s") from None
        except ConnectionClosed as exc:
            raise JanusClosedError() from exc
        finally:
            self._pending.pop(transaction, None)
        if reply.get("janus") == "error":
            error = reply.get("error") or {}
            raise JanusError(int(error.get("code", 0)), str(error.get("reason", "unknown error")))
        return reply

    def _register_handle(self, handle: JanusHandle) -> None:
        self._handles[handle.id] = handle

    def _forget_handle(self, handle_id: int) -> None:
        self._handles.pop(handle_id, None)

    def _forget_session(self, session_id: int) -> None:
        self._sessions.pop(session_id, None)

    # -- incoming -----------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        try:
            async for raw in self._ws:
                try:
                    message = json.loads(raw)
                except ValueError:
                    log.warning("ignoring a non-JSON message from Janus")
                    continue
                if isinstance(message, dict):
                    self._dispatch(message)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("the Janus reader failed")
        finally:
            self._connection_lost()

    def _dispatch(self, message: JsonObject) -> None:
        kind = message.get("janus")
        transaction = message.get("transaction")
        if isinstance(transaction, str):
            pending = self._pending.get(transaction)
            if pending is not None and not pending.future.done():
                if kind == "ack" and pending.wants_event:
                    return
                pending.future.set_result(message)
                return
            # A second event of an answered request (a videoroom ``updating`` is followed by the
            # ``updated`` offer, with the same transaction) is the handle's, like any unasked event.
        if kind == "ack":
            return
        if kind == "timeout":
            session_id = message.get("session_id")
            log.warning("Janus timed out session %s", session_id)
            session = self._sessions.get(session_id) if isinstance(session_id, int) else None
            if session is not None:
                session._lost()
            return
        sender = message.get("sender")
        handle = self._handles.get(sender) if isinstance(sender, int) else None
        if handle is None:
            log.debug("Janus message for no known handle: %s", kind)
            return
        handle._deliver(message)

    def _connection_lost(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._keepalive.cancel()
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(JanusClosedError())
        self._pending.clear()
        handles = list(self._handles.values())
        self._handles.clear()
        self._sessions.clear()
        for handle in handles:
            handle._lost()
        for callback in self._close_callbacks:
            try:
                callback()
            except Exception:
                log.exception("a Janus close callback failed")

    async def _keepalive_loop(self) -> None:
        while True:
            await asyncio.sleep(self._keepalive_interval)
            for session in list(self._sessions.values()):
                try:
                    await self.call({"janus": "keepalive", "session_id": session.id})
                except JanusClosedError:
                    return
                except JanusError as exc:
                    log.warning("keepalive of Janus session %s failed: %s", session.id, exc)

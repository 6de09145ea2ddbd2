"""Run meetkit's own Janus: write its configuration (:mod:`.janus_config`), start it, restart it when it
dies (through the media :class:`~.watchdog.Watchdog`), stop it. The process itself (output file, pid
file, stopping, a stale one left by a dead meetkit) is a :class:`~.process.ChildProcess`.

Everything lives in ``<data_dir>/janus/``: the generated configuration and secrets, Janus's log
(``janus.log``), its early output (``janus.out``) and ``janus.pid``. The Debian package's system
service is never used.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from ..clock import Clock, SystemClock
from ..config import Settings
from .janus_config import JanusConfig
from .process import ChildProcess, tcp_answers, tcp_port_free
from .watchdog import Backoff, RestartCallback, Watchdog

log = logging.getLogger("meetkit.media.supervisor")


class JanusSupervisor:
    """Owns one Janus process. ``start()`` returns when its WebSocket answers."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        ready_timeout: float = 20.0,
        stop_timeout: float = 5.0,
        backoff_min: float = 0.5,
        backoff_max: float = 30.0,
        stable_after: float = 60.0,
    ) -> None:
        self._settings = settings
        self.config = JanusConfig(settings)
        self.folder = self.config.folder
        self._clock = clock or SystemClock()
        self._ready_timeout = ready_timeout
        self.process = ChildProcess(
            "Janus", self.folder, [settings.janus_binary, "-F", str(self.folder), "-C", str(self.config.main_file)],
            marker=self.config.main_file, out_name="janus.out", pid_name="janus.pid", log_names=("janus.log",),
            stop_timeout=stop_timeout)
        self._watchdog = Watchdog(
            "Janus", self._spawn, self._wait_exit, clock=self._clock,
            backoff=Backoff(initial=backoff_min, cap=backoff_max, stable_after=stable_after),
        )

    # -- what meetkit needs to talk to it -----------------------------------------------------------

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._settings.janus_ws_port}"

    @property
    def admin_url(self) -> str | None:
        port = self._settings.janus_admin_port
        return None if port is None else f"ws://127.0.0.1:{port}"

    @property
    def admin_key(self) -> str:
        """The videoroom plugin's admin_key (needed to create rooms)."""
        return self.config.admin_key

    @property
    def admin_secret(self) -> str:
        """The Admin API secret."""
        return self.config.admin_secret

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def restarts(self) -> int:
        return self._watchdog.restarts

    @property
    def _watcher(self) -> asyncio.Task[None] | None:
        # The watching task; a test cancels it to play a meetkit that died and left its Janus behind.
        return self._watchdog.task

    def on_restart(self, callback: RestartCallback) -> None:
        """Await ``callback()`` after Janus was restarted (it lost every room and session)."""
        self._watchdog.on_restart(callback)

    def write_config(self) -> Path:
        """(Re)write the configuration folder from the settings; returns it."""
        return self.config.write()

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        self.config.write()
        await self.process.reap_stale()
        await self._watchdog.start()

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout``. Idempotent."""
        await self._watchdog.stop()
        await self.process.stop()

    async def _spawn(self) -> None:
        """Start Janus and wait (bounded) until its WebSocket port accepts connections."""
        for port in self.config.ports():
            if not tcp_port_free(port):
                raise RuntimeError(f"127.0.0.1:{port} is already in use (another Janus, e.g. the system service?)")
        proc = await self.process.spawn()
        try:
            await self._wait_ready(proc)
        except BaseException:
            await self.process.stop()
            raise
        log.info("Janus running (pid %s) on %s", proc.pid, self.url)

    async def _wait_ready(self, proc: asyncio.subprocess.Process) -> None:
        # Real time, not the clock: this waits for a real process to open its port.
        deadline = time.monotonic() + self._ready_timeout
        while True:
            if proc.returncode is not None:
                raise RuntimeError(f"Janus exited with status {proc.returncode} at start: {self.process.out_tail()}")
            if await tcp_answers("127.0.0.1", self._settings.janus_ws_port):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"Janus did not open {self.url} within {self._ready_timeout} s: "
                                   f"{self.process.out_tail()}")
            await asyncio.sleep(0.1)

    async def _wait_exit(self) -> None:
        """Return when the running Janus exits (the watchdog then restarts it)."""
        await self.process.wait_exit()

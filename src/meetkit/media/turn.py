"""Run meetkit's own coturn (``turn_mode=managed``): write its configuration (:mod:`.turn_config`), start
``turnserver -c <data_dir>/turn/turnserver.conf``, restart it when it dies (a
:class:`~.watchdog.Watchdog`), stop it. The process is a :class:`~.process.ChildProcess`, like Janus.

Everything lives in ``<data_dir>/turn/``: the configuration and the secret, coturn's log
(``turnserver.log``), its early output (``turnserver.out``) and ``turnserver.pid``.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ..clock import Clock, SystemClock
from ..config import Settings
from ..domain.turn import TurnCredentials
from .process import ChildProcess, tcp_answers, tcp_port_free
from .turn_config import TurnConfig
from .watchdog import Backoff, Watchdog

log = logging.getLogger("meetkit.media.turn")


def turn_credentials(settings: Settings) -> TurnCredentials | None:
    """What participants' ICE servers are made from, as configured (None: no TURN)."""
    mode = settings.resolved_turn_mode
    if mode == "off":
        return None
    if mode == "external":
        assert settings.turn_urls and settings.turn_secret  # checked by Settings
        urls = tuple(u.strip() for u in settings.turn_urls.split(",") if u.strip())
        return TurnCredentials(urls=urls, secret=settings.turn_secret.get_secret_value().encode(),
                               ttl=settings.turn_credential_ttl)
    config = TurnConfig(settings)
    return TurnCredentials(urls=config.urls(), secret=config.secret.encode(), ttl=settings.turn_credential_ttl)


class TurnSupervisor:
    """Owns one coturn process. ``start()`` returns when its TCP listener answers."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None, ready_timeout: float = 15.0,
                 stop_timeout: float = 5.0, backoff_min: float = 0.5, backoff_max: float = 30.0) -> None:
        self._settings = settings
        self.config = TurnConfig(settings)
        self.folder = self.config.folder
        self._ready_timeout = ready_timeout
        self.process = ChildProcess(
            "coturn", self.folder, [settings.turn_binary, "-c", str(self.config.main_file)],
            marker=self.config.main_file, out_name="turnserver.out", pid_name="turnserver.pid",
            log_names=("turnserver.log",), stop_timeout=stop_timeout)
        self._watchdog = Watchdog("coturn", self._spawn, self.process.wait_exit, clock=clock or SystemClock(),
                                  backoff=Backoff(initial=backoff_min, cap=backoff_max, stable_after=60.0))

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def restarts(self) -> int:
        return self._watchdog.restarts

    async def start(self) -> None:
        self.config.write()
        await self.process.reap_stale()
        await self._watchdog.start()

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout``. Idempotent."""
        await self._watchdog.stop()
        await self.process.stop()

    async def _spawn(self) -> None:
        host, port = self.config.probe_address(), self._settings.turn_port
        # coturn waits for a busy port instead of failing: find out here, with a clear message.
        if not tcp_port_free(port, host):
            raise RuntimeError(f"{host}:{port} is already in use (another TURN server, e.g. the system coturn?)")
        proc = await self.process.spawn()
        try:
            deadline = time.monotonic() + self._ready_timeout
            while not await tcp_answers(host, port):
                if proc.returncode is not None:
                    raise RuntimeError(f"coturn exited with status {proc.returncode} at start: "
                                       f"{self.process.out_tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"coturn did not listen on {host}:{port} within {self._ready_timeout} s: "
                                       f"{self.process.out_tail()}")
                await asyncio.sleep(0.1)
        except BaseException:
            await self.process.stop()
            raise
        log.info("coturn running (pid %s) on port %s%s", proc.pid, port,
                 f", TLS {self._settings.turn_tls_port}" if self.config.tls else "")

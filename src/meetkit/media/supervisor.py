"""Run meetkit's own Janus: write its configuration (:mod:`.janus_config`), start it, restart it when it
dies (through the media :class:`~.watchdog.Watchdog`), stop it.

Everything lives in ``<data_dir>/janus/``: the generated configuration and secrets, Janus's log
(``janus.log``), its early output (``janus.out``) and ``janus.pid``. The Debian package's system
service is never used.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import IO

from ..clock import Clock, SystemClock
from ..config import Settings
from .janus_config import JanusConfig
from .watchdog import Backoff, RestartCallback, Watchdog

log = logging.getLogger("meetkit.media.supervisor")

_OUT_MAX = 1024 * 1024  # janus.out is truncated at a start when larger


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
        self._stop_timeout = stop_timeout
        self._proc: asyncio.subprocess.Process | None = None
        self._started_at = 0.0
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
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

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
        await self._reap_stale()
        await self._watchdog.start()

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout``. Idempotent."""
        await self._watchdog.stop()
        proc, self._proc = self._proc, None
        if proc is not None:
            await self._terminate(proc)
        with contextlib.suppress(FileNotFoundError):
            (self.folder / "janus.pid").unlink()

    async def _spawn(self) -> None:
        """Start Janus and wait (bounded) until its WebSocket port accepts connections."""
        for port in self.config.ports():
            if not _port_free(port):
                raise RuntimeError(f"127.0.0.1:{port} is already in use (another Janus, e.g. the system service?)")
        out = self._open_out()
        try:
            proc = await asyncio.create_subprocess_exec(
                self._settings.janus_binary, "-F", str(self.folder), "-C", str(self.config.main_file),
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # meetkit decides when it stops, not a terminal's Ctrl-C
                preexec_fn=_die_with_parent,
            )
        finally:
            out.close()
        self._proc = proc
        self._started_at = time.monotonic()
        (self.folder / "janus.pid").write_text(f"{proc.pid}\n")
        try:
            await self._wait_ready(proc)
        except BaseException:
            await self._terminate(proc)
            self._proc = None
            raise
        log.info("Janus running (pid %s) on %s", proc.pid, self.url)

    async def _wait_ready(self, proc: asyncio.subprocess.Process) -> None:
        # Real time, not the clock: this waits for a real process to open its port.
        deadline = time.monotonic() + self._ready_timeout
        while True:
            if proc.returncode is not None:
                raise RuntimeError(f"Janus exited with status {proc.returncode} at start: {self._out_tail()}")
            try:
                async with asyncio.timeout(1.0):
                    _, writer = await asyncio.open_connection("127.0.0.1", self._settings.janus_ws_port)
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
                return
            except (OSError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Janus did not open {self.url} within {self._ready_timeout} s: {self._out_tail()}")
            await asyncio.sleep(0.1)

    async def _wait_exit(self) -> None:
        """Return when the running Janus exits (the watchdog then restarts it)."""
        proc = self._proc
        if proc is None:
            return
        status = await proc.wait()
        ran = time.monotonic() - self._started_at
        log.error("Janus (pid %s) exited with status %s after %.0f s: %s", proc.pid, status, ran, self._out_tail())

    async def _terminate(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(self._stop_timeout):
                    await proc.wait()
            except TimeoutError:
                log.warning("Janus (pid %s) ignored SIGTERM for %s s; killing it", proc.pid, self._stop_timeout)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        await proc.wait()

    async def _reap_stale(self) -> None:
        """End a Janus left running by a meetkit that died: it holds our ports and knows stale rooms."""
        pid_file = self.folder / "janus.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            pid_file.unlink(missing_ok=True)
            return  # gone
        try:
            # Checked after pinning the process with a pidfd, so a reused pid cannot be hit.
            if str(self.config.main_file).encode() not in _cmdline(pid):
                return  # not ours: leave it alone
            log.warning("stopping a stale Janus (pid %s) from a previous run", pid)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, sig)
                if await _exited(pidfd, self._stop_timeout):
                    break
        finally:
            os.close(pidfd)
            pid_file.unlink(missing_ok=True)

    def _open_out(self) -> IO[bytes]:
        path = self.folder / "janus.out"
        mode = "wb" if path.exists() and path.stat().st_size > _OUT_MAX else "ab"
        return path.open(mode)

    def _out_tail(self, limit: int = 2000) -> str:
        parts = []
        for name in ("janus.out", "janus.log"):
            with contextlib.suppress(OSError):
                text = (self.folder / name).read_bytes()[-limit:].decode(errors="replace").strip()
                if text:
                    parts.append(f"[{name}] …{text[-limit:]}")
        return "\n".join(parts) or "(no output)"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cmdline(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


async def _exited(pidfd: int, seconds: float) -> bool:
    """Whether the process behind ``pidfd`` ends within ``seconds`` (a pidfd turns readable then)."""
    loop = asyncio.get_running_loop()
    gone = asyncio.Event()
    loop.add_reader(pidfd, gone.set)
    try:
        async with asyncio.timeout(seconds):
            await gone.wait()
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(pidfd)


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, ask the kernel to SIGTERM Janus when meetkit dies, even by
    SIGKILL, so no orphan Janus keeps the ports (start-up also stops a stale one it finds)."""
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

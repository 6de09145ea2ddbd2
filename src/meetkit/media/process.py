"""One helper process meetkit runs itself from a configuration folder it wrote: Janus
(:mod:`.supervisor`) and coturn (:mod:`.turn`).

:class:`ChildProcess` starts it with its output in a file of that folder, remembers its pid in another,
stops it (SIGTERM, then SIGKILL), and at start-up ends one a meetkit that died left running (it holds
our ports) — recognised by the configuration file on its command line, never by its name. The owner
decides when it is ready and restarts it through a :class:`~.watchdog.Watchdog`.
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

log = logging.getLogger("meetkit.media.process")

_OUT_MAX = 1024 * 1024  # the output file is truncated at a start when larger


class ChildProcess:
    """``argv`` run in ``folder``; ``marker`` (a path on its command line) tells ours from others'."""

    def __init__(self, name: str, folder: Path, argv: list[str], *, marker: Path, out_name: str,
                 pid_name: str, log_names: tuple[str, ...] = (), stop_timeout: float = 5.0) -> None:
        self.name = name
        self.folder = folder
        self.argv = argv
        self._marker = marker
        self._out = folder / out_name
        self._pid_file = folder / pid_name
        self._log_names = (out_name, *log_names)
        self._stop_timeout = stop_timeout
        self.proc: asyncio.subprocess.Process | None = None
        self.started_at = 0.0

    @property
    def pid(self) -> int | None:
        proc = self.proc
        return proc.pid if proc is not None and proc.returncode is None else None

    async def spawn(self) -> asyncio.subprocess.Process:
        out = self._open_out()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # meetkit decides when it stops, not a terminal's Ctrl-C
                preexec_fn=_die_with_parent,
            )
        finally:
            out.close()
        self.proc = proc
        self.started_at = time.monotonic()
        self._pid_file.write_text(f"{proc.pid}\n")
        return proc

    async def wait_exit(self) -> None:
        """Return when the running process exits (logged with the tail of its output)."""
        proc = self.proc
        if proc is None:
            return
        status = await proc.wait()
        ran = time.monotonic() - self.started_at
        log.error("%s (pid %s) exited with status %s after %.0f s: %s", self.name, proc.pid, status, ran,
                  self.out_tail())

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout``. Idempotent."""
        proc, self.proc = self.proc, None
        if proc is not None:
            await self.terminate(proc)
        with contextlib.suppress(FileNotFoundError):
            self._pid_file.unlink()

    async def terminate(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(self._stop_timeout):
                    await proc.wait()
            except TimeoutError:
                log.warning("%s (pid %s) ignored SIGTERM for %s s; killing it", self.name, proc.pid,
                            self._stop_timeout)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        await proc.wait()

    async def reap_stale(self) -> None:
        """End a process of ours left running by a meetkit that died."""
        try:
            pid = int(self._pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            self._pid_file.unlink(missing_ok=True)
            return  # gone
        try:
            # Checked after pinning the process with a pidfd, so a reused pid cannot be hit.
            if str(self._marker).encode() not in _cmdline(pid):
                return  # not ours: leave it alone
            log.warning("stopping a stale %s (pid %s) from a previous run", self.name, pid)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, sig)
                if await _exited(pidfd, self._stop_timeout):
                    break
        finally:
            os.close(pidfd)
            self._pid_file.unlink(missing_ok=True)

    def _open_out(self) -> IO[bytes]:
        mode = "wb" if self._out.exists() and self._out.stat().st_size > _OUT_MAX else "ab"
        return self._out.open(mode)

    def out_tail(self, limit: int = 2000) -> str:
        parts = []
        for name in self._log_names:
            with contextlib.suppress(OSError):
                text = (self.folder / name).read_bytes()[-limit:].decode(errors="replace").strip()
                if text:
                    parts.append(f"[{name}] …{text[-limit:]}")
        return "\n".join(parts) or "(no output)"


def tcp_port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


async def tcp_answers(host: str, port: int) -> bool:
    """Whether ``host:port`` accepts a TCP connection now (bounded to a second)."""
    try:
        async with asyncio.timeout(1.0):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def write_private(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write ``text`` to ``path``, mode 0600 (``exclusive``: only if it does not exist yet)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)


def private_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


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
    """In the child, before exec: on Linux, ask the kernel to SIGTERM it when meetkit dies, even by
    SIGKILL, so no orphan keeps the ports (start-up also stops a stale one it finds)."""
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

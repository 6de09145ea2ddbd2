"""Run meetkit's own Janus: generate its configuration, start it, restart it when it dies, stop it.

Everything lives in ``<data_dir>/janus/``: the generated ``*.jcfg`` files (rewritten at every start
from the settings), the secrets (``admin_key``, ``admin_secret``: generated once, mode 0600), Janus's
log (``janus.log``), its early output (``janus.out``) and ``janus.pid``. The Debian package's own
configuration in /etc/janus and its system service are never used.

Janus listens on 127.0.0.1 only (the Janus API WebSocket, and the Admin API WebSocket when
``janus_admin_port`` is set); meetkit is its only client. Only the videoroom plugin and the websockets
transport are loaded. ICE uses the interfaces in ``media_ice_interface`` (all but loopback when
unset), no STUN server, and advertises ``media_nat_1_1`` when set.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

from ..config import Settings

log = logging.getLogger("meetkit.media.supervisor")

RestartCallback = Callable[[], Awaitable[None]]

VIDEOROOM = "libjanus_videoroom.so"
WEBSOCKETS = "libjanus_websockets.so"
_OUT_MAX = 1024 * 1024  # janus.out is truncated at a start when larger
_PROTECTED = ["/bin", "/boot", "/dev", "/etc", "/initrd", "/lib", "/lib32", "/lib64", "/proc", "/sbin", "/sys",
              "/usr", "/var", "/opt/janus/bin", "/opt/janus/etc", "/opt/janus/include", "/opt/janus/lib",
              "/opt/janus/lib32", "/opt/janus/lib64", "/opt/janus/sbin"]


class JanusSupervisor:
    """Owns one Janus process. ``start()`` returns when its WebSocket answers."""

    def __init__(
        self,
        settings: Settings,
        *,
        ready_timeout: float = 20.0,
        stop_timeout: float = 5.0,
        backoff_min: float = 0.5,
        backoff_max: float = 30.0,
        stable_after: float = 60.0,
    ) -> None:
        self._settings = settings
        self.folder = settings.data_dir.resolve() / "janus"
        self._ready_timeout = ready_timeout
        self._stop_timeout = stop_timeout
        self._backoff_min = backoff_min
        self._backoff_max = backoff_max
        self._stable_after = stable_after
        self._proc: asyncio.subprocess.Process | None = None
        self._started_at = 0.0
        self._watcher: asyncio.Task[None] | None = None
        self._restart_callbacks: list[RestartCallback] = []
        self._stopping = False
        self.restarts = 0

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
        return self._secret("admin_key")

    @property
    def admin_secret(self) -> str:
        """The Admin API secret."""
        return self._secret("admin_secret")

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    def on_restart(self, callback: RestartCallback) -> None:
        """Await ``callback()`` after Janus was restarted (it lost every room and session)."""
        self._restart_callbacks.append(callback)

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        self.write_config()
        await self._reap_stale()
        await self._spawn()
        self._watcher = asyncio.create_task(self._watch(), name="janus-supervisor")

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout``. Idempotent."""
        self._stopping = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        proc, self._proc = self._proc, None
        if proc is not None:
            await self._terminate(proc)
        with contextlib.suppress(FileNotFoundError):
            (self.folder / "janus.pid").unlink()

    async def _spawn(self) -> None:
        """Start Janus and wait (bounded) until its WebSocket port accepts connections."""
        for port in self._ports():
            if not _port_free(port):
                raise RuntimeError(f"127.0.0.1:{port} is already in use (another Janus, e.g. the system service?)")
        out = self._open_out()
        try:
            proc = await asyncio.create_subprocess_exec(
                self._settings.janus_binary, "-F", str(self.folder), "-C", str(self.folder / "janus.jcfg"),
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
            raise
        log.info("Janus running (pid %s) on %s", proc.pid, self.url)

    async def _wait_ready(self, proc: asyncio.subprocess.Process) -> None:
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

    async def _watch(self) -> None:
        delay = self._backoff_min
        while not self._stopping:
            proc = self._proc
            if proc is not None:
                status = await proc.wait()
                if self._stopping:
                    return
                ran = time.monotonic() - self._started_at
                log.error("Janus (pid %s) exited with status %s after %.0f s: %s", proc.pid, status, ran,
                          self._out_tail())
                if ran > self._stable_after:
                    delay = self._backoff_min
            log.info("restarting Janus in %.1f s", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max)
            try:
                await self._spawn()
            except Exception:
                log.exception("restarting Janus failed")
                self._proc = None
                continue
            self.restarts += 1
            for callback in list(self._restart_callbacks):
                try:
                    await callback()
                except Exception:
                    log.exception("a Janus restart callback failed")

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
            if str(self.folder / "janus.jcfg").encode() not in _cmdline(pid):
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

    # -- configuration ------------------------------------------------------------------------------

    def write_config(self) -> Path:
        """(Re)write the configuration folder from the settings; returns it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        lib = self._lib_dir()
        files = {
            "janus.jcfg": self._janus_jcfg(lib),
            "janus.transport.websockets.jcfg": self._websockets_jcfg(),
            "janus.plugin.videoroom.jcfg": self._videoroom_jcfg(),
        }
        for name, text in files.items():
            _write_private(self.folder / name, text)
        return self.folder

    def _janus_jcfg(self, lib: Path) -> str:
        s = self._settings
        nat = ["ignore_mdns = true"]
        if s.media_ice_interface:
            nat.append(f"ice_enforce_list = {_q(s.media_ice_interface)}")
        else:
            nat.append('ice_ignore_list = "vmnet"')
        if s.media_nat_1_1:
            nat.append(f"nat_1_1_mapping = {_q(s.media_nat_1_1)}")
        general = [
            f"configs_folder = {_q(str(self.folder))}",
            f"plugins_folder = {_q(str(lib / 'plugins'))}",
            f"transports_folder = {_q(str(lib / 'transports'))}",
            f"events_folder = {_q(str(lib / 'events'))}",
            f"loggers_folder = {_q(str(lib / 'loggers'))}",
            "log_to_stdout = false",
            f"log_to_file = {_q(str(self.folder / 'janus.log'))}",
            "debug_level = 4",
            "debug_timestamps = true",
            "debug_colors = false",
            f"admin_secret = {_q(self.admin_secret)}",
            'server_name = "meetkit"',
            "session_timeout = 60",
            "reclaim_session_timeout = 0",
            "protected_folders = [" + ", ".join(_q(p) for p in _PROTECTED) + "]",
        ]
        first_ice = (s.media_ice_interface or "").split(",")[0].strip()
        if first_ice:
            # Also the address Janus reports as its own (else it probes the default route for one).
            general.append(f"interface = {_q(first_ice)}")
        sections = {
            "general": general,
            "certificates": [],
            "media": [f"rtp_port_range = {_q(_port_range(s.media_rtp_ports))}"],
            "nat": nat,
            "plugins": _disable(lib / "plugins", keep=VIDEOROOM),
            "transports": _disable(lib / "transports", keep=WEBSOCKETS),
            "loggers": _disable(lib / "loggers", keep=None),
            "events": ["broadcast = false", *_disable(lib / "events", keep=None)],
        }
        return _render(sections)

    def _websockets_jcfg(self) -> str:
        admin_port = self._settings.janus_admin_port
        admin = ["admin_wss = false"]
        if admin_port is None:
            admin.insert(0, "admin_ws = false")
        else:
            admin[:0] = ["admin_ws = true", f"admin_ws_port = {admin_port}", 'admin_ws_ip = "127.0.0.1"',
                         'admin_ws_acl = "127.0.0.1"']
        return _render({
            "general": [
                'json = "compact"', "events = false", "ws = true", f"ws_port = {self._settings.janus_ws_port}",
                'ws_ip = "127.0.0.1"', 'ws_acl = "127.0.0.1"', "wss = false", 'ws_logging = "err,warn"',
            ],
            "admin": admin,
        })

    def _videoroom_jcfg(self) -> str:
        return _render({
            "general": [f"admin_key = {_q(self.admin_key)}", "lock_rtp_forward = true", "events = false"],
        })

    def _lib_dir(self) -> Path:
        if self._settings.janus_lib_dir is not None:
            return self._settings.janus_lib_dir
        binary = Path(shutil.which(self._settings.janus_binary) or self._settings.janus_binary).resolve()
        prefix = binary.parent.parent
        candidates = [prefix / "lib" / "janus", *sorted((prefix / "lib").glob("*/janus")), prefix / "lib64" / "janus"]
        for candidate in candidates:
            if (candidate / "plugins" / VIDEOROOM).exists():
                return candidate
        raise FileNotFoundError(f"no Janus plugins folder near {binary}: set MEETKIT_JANUS_LIB_DIR")

    def _ports(self) -> list[int]:
        ports = [self._settings.janus_ws_port]
        if self._settings.janus_admin_port is not None:
            ports.append(self._settings.janus_admin_port)
        return ports

    def _secret(self, name: str) -> str:
        path = self.folder / name
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            self.folder.chmod(0o700)
            with contextlib.suppress(FileExistsError):
                _write_private(path, secrets.token_urlsafe(32), exclusive=True)
        return path.read_text().strip()

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


def _render(sections: dict[str, list[str]]) -> str:
    out = ["# Generated by meetkit (media/supervisor.py) at every start: edit the settings, not this file."]
    for name, items in sections.items():
        out.append(f"{name}: {{")
        out.extend(f"\t{item}" for item in items)
        out.append("}")
    return "\n".join(out) + "\n"


def _q(value: str) -> str:
    """A libconfig string literal."""
    if any(ord(c) < 0x20 for c in value):
        raise ValueError(f"control character in a Janus setting: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _disable(folder: Path, *, keep: str | None) -> list[str]:
    names = sorted(p.name for p in folder.glob("*.so") if p.name != keep) if folder.is_dir() else []
    return [f"disable = {_q(','.join(names))}"] if names else []


def _port_range(value: str) -> str:
    low, _, high = value.partition("-")
    lo, hi = int(low), int(high)
    if not 1024 <= lo <= hi <= 65535:
        raise ValueError(f"bad RTP port range {value!r}")
    return f"{lo}-{hi}"


def _write_private(path: Path, text: str, *, exclusive: bool = False) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)


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

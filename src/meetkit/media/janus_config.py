"""The configuration of meetkit's own Janus, generated from the settings into ``<data_dir>/janus/``.

The ``*.jcfg`` files are rewritten at every start; the secrets (``admin_key``, ``admin_secret``) are
generated once, mode 0600, in a folder of mode 0700. The Debian package's own configuration in
/etc/janus is never used.

Janus listens on 127.0.0.1 only (the Janus API WebSocket, and the Admin API WebSocket when
``janus_admin_port`` is set); meetkit is its only client. Only the videoroom plugin and the websockets
transport are loaded. ICE uses the interfaces in ``media_ice_interface`` (all but loopback when
unset), no STUN server, and advertises ``media_nat_1_1`` when set.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
from pathlib import Path

from ..config import Settings
from .process import write_private as _write_private

VIDEOROOM = "libjanus_videoroom.so"
WEBSOCKETS = "libjanus_websockets.so"
_PROTECTED = ["/bin", "/boot", "/dev", "/etc", "/initrd", "/lib", "/lib32", "/lib64", "/proc", "/sbin", "/sys",
              "/usr", "/var", "/opt/janus/bin", "/opt/janus/etc", "/opt/janus/include", "/opt/janus/lib",
              "/opt/janus/lib32", "/opt/janus/lib64", "/opt/janus/sbin"]


class JanusConfig:
    """The configuration folder of one Janus, made from the settings."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.folder = settings.data_dir.resolve() / "janus"

    @property
    def main_file(self) -> Path:
        """``janus.jcfg``: Janus is started with ``-C`` on it (and a stale Janus is recognised by it)."""
        return self.folder / "janus.jcfg"

    @property
    def admin_key(self) -> str:
        """The videoroom plugin's admin_key (needed to create rooms): ``janus_admin_key`` when set (the
        pool's Janus servers and nodes share one), else a random one kept in the folder."""
        if self._settings.janus_admin_key:
            return self._settings.janus_admin_key
        return self._secret("admin_key")

    @property
    def admin_secret(self) -> str:
        """The Admin API secret."""
        return self._secret("admin_secret")

    def ports(self) -> list[int]:
        """The TCP ports Janus listens on (127.0.0.1)."""
        ports = [self._settings.janus_ws_port]
        if self._settings.janus_admin_port is not None:
            ports.append(self._settings.janus_admin_port)
        return ports

    def write(self) -> Path:
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
            f"reclaim_session_timeout = {self._settings.janus_reclaim_seconds}",
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
                f"ws_ip = {_q(self._settings.janus_ws_ip)}",
                f"ws_acl = {_q(self._settings.janus_ws_acl)}", "wss = false", 'ws_logging = "err,warn"',
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

    def _secret(self, name: str) -> str:
        path = self.folder / name
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            self.folder.chmod(0o700)
            with contextlib.suppress(FileExistsError):
                _write_private(path, secrets.token_urlsafe(32), exclusive=True)
        return path.read_text().strip()


def _render(sections: dict[str, list[str]]) -> str:
    out = ["# Generated by meetkit (media/janus_config.py) at every start: edit the settings, not this file."]
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

"""The configuration of meetkit's own coturn, generated from the settings into ``<data_dir>/turn/``.

``turnserver.conf`` is rewritten at every start (mode 0600: it holds the secret); the shared secret
(``static_auth_secret``) is generated once, mode 0600, in a folder of mode 0700. The Debian package's
/etc/turnserver.conf and its system service are never used. The secret is only in files, never on
the command line or in coturn's log.

What it allows: TURN over UDP and TCP on ``turn_port``, over TLS on ``turn_tls_port`` when a
certificate is given; UDP relays only (no TCP relays to arbitrary services); no CLI, no web admin,
no multicast peers. Behind an SFU the only peer a browser needs through meetkit's relay is Janus, so
when Janus's addresses are known (``media_ice_interface``: IP literals, or an interface name resolved
to its IPv4 addresses) every other peer is denied; otherwise private, reserved and loopback peers are.
``turn_allowed_peer_ips`` are allowed either way (the tests' loopback). Quotas bound what one set of
credentials, and the whole server, may hold.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from ..config import Settings
from ..domain.turn import turn_urls
from .process import private_folder, write_private

# Peers nobody should reach through a public relay: this host's and its networks' services.
DENIED_PEERS = (
    "0.0.0.0-0.255.255.255", "10.0.0.0-10.255.255.255", "100.64.0.0-100.127.255.255",
    "127.0.0.0-127.255.255.255", "169.254.0.0-169.254.255.255", "172.16.0.0-172.31.255.255",
    "192.0.0.0-192.0.0.255", "192.0.2.0-192.0.2.255", "192.88.99.0-192.88.99.255",
    "192.168.0.0-192.168.255.255", "198.18.0.0-198.19.255.255", "198.51.100.0-198.51.100.255",
    "203.0.113.0-203.0.113.255", "240.0.0.0-255.255.255.255",
    "::1", "64:ff9b::-64:ff9b::ffff:ffff", "::ffff:0.0.0.0-::ffff:255.255.255.255",
    "2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
    "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
)


# Every peer: denied when Janus's addresses are known (allowed-peer-ip lines take precedence in coturn).
ALL_PEERS = ("0.0.0.0-255.255.255.255", "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
# Allocations per username (a participant: ≤ 3 peer connections, UDP and TCP each, with ICE restarts).
USER_QUOTA = 12
# Allocations the whole server holds at once.
TOTAL_QUOTA = 1200
# Bytes per second one TURN session may carry (~4 Mbit/s: a 720p simulcast publisher with headroom).
MAX_BPS = 500_000


def ipv4_of_interface(ip_json: str, name: str) -> list[str]:
    """The IPv4 addresses of interface ``name`` in ``ip -j addr show`` output (pure)."""
    try:
        links = json.loads(ip_json or "[]")
    except ValueError:
        return []
    return [str(a["local"]) for link in links if isinstance(link, dict) and link.get("ifname") == name
            for a in link.get("addr_info", []) if a.get("family") == "inet" and a.get("local")]


def _interface_ipv4(name: str) -> list[str]:
    try:
        out = subprocess.run(["ip", "-j", "addr", "show", "dev", name], capture_output=True, text=True,
                             timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return ipv4_of_interface(out, name)


def janus_addresses(value: str | None) -> list[str]:
    """Janus's ICE addresses: ``media_ice_interface``'s IP literals, and its interface names resolved."""
    out: list[str] = []
    for item in _split(value):
        try:
            out.append(str(ipaddress.ip_address(item)))
        except ValueError:
            out += _interface_ipv4(item)
    return out


def _split(value: str | None) -> list[str]:
    return [x.strip() for x in (value or "").split(",") if x.strip()]


class TurnConfig:
    """The configuration folder of one coturn, made from the settings."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.folder = settings.data_dir.resolve() / "turn"

    @property
    def main_file(self) -> Path:
        """``turnserver.conf``: coturn runs with ``-c`` on it (and a stale one is recognised by it)."""
        return self.folder / "turnserver.conf"

    @property
    def secret(self) -> str:
        """The shared secret (``static-auth-secret``) credentials are signed with."""
        path = self.folder / "static_auth_secret"
        if not path.exists():
            private_folder(self.folder)
            try:
                write_private(path, secrets.token_urlsafe(32), exclusive=True)
            except FileExistsError:
                pass  # made meanwhile by another start
        return path.read_text().strip()

    @property
    def host(self) -> str:
        s = self._settings
        return s.turn_host or urlsplit(s.public_url).hostname or "127.0.0.1"

    @property
    def tls(self) -> bool:
        return self._settings.turn_tls_cert is not None and self._settings.turn_tls_key is not None

    def urls(self) -> tuple[str, ...]:
        s = self._settings
        return turn_urls(self.host, s.turn_port, s.turn_tls_port if self.tls else None)

    def probe_address(self) -> str:
        """Where meetkit checks coturn is up: its TCP listener on the first listening address."""
        first = (_split(self._settings.turn_listening_ips) or ["127.0.0.1"])[0]
        return "127.0.0.1" if first in ("0.0.0.0", "::") else first

    def write(self) -> Path:
        """(Re)write the configuration folder from the settings; returns it."""
        private_folder(self.folder)
        write_private(self.main_file, self.text())
        return self.folder

    def text(self) -> str:
        s = self._settings
        low, _, high = s.turn_relay_ports.partition("-")
        if not 1024 <= int(low) <= int(high) <= 65535:
            raise ValueError(f"bad TURN relay port range {s.turn_relay_ports!r}")
        lines = [
            "# Generated by meetkit (media/turn_config.py) at every start: edit the settings, not this file.",
            "use-auth-secret",
            f"static-auth-secret={_value(self.secret)}",
            f"realm={_value(s.turn_realm or self.host)}",
            f"listening-port={s.turn_port}",
            f"min-port={int(low)}",
            f"max-port={int(high)}",
            *(f"listening-ip={ip}" for ip in _split(s.turn_listening_ips)),
            *(f"relay-ip={ip}" for ip in _split(s.turn_relay_ips)),
        ]
        if s.turn_external_ip:
            lines.append(f"external-ip={_value(s.turn_external_ip)}")
        if self.tls:
            lines += [f"tls-listening-port={s.turn_tls_port}", f"cert={_value(str(s.turn_tls_cert))}",
                      f"pkey={_value(str(s.turn_tls_key))}", "no-tlsv1", "no-tlsv1_1"]
        else:
            lines.append("no-tls")
        lines += [
            "no-dtls", "no-tcp-relay", "no-cli", "no-multicast-peers", "no-rfc5780", "no-software-attribute",
            "fingerprint", "stale-nonce=600", f"user-quota={USER_QUOTA}", f"total-quota={TOTAL_QUOTA}",
            f"max-bps={MAX_BPS}", "no-stdout-log", "simple-log",
            f"log-file={_value(str(self.folder / 'turnserver.log'))}",
            f"pidfile={_value(str(self.folder / 'coturn.pid'))}",
            f"userdb={_value(str(self.folder / 'turndb'))}",
        ]
        if s.turn_allow_loopback_peers:
            # Loopback passes coturn's own check; the denied ranges below still keep all but the allowed.
            lines.append("allow-loopback-peers")
        janus = janus_addresses(s.media_ice_interface)
        allowed = [*janus, *_split(s.turn_allowed_peer_ips)]
        lines += [f"allowed-peer-ip={_value(ip)}" for ip in dict.fromkeys(allowed)]
        lines += [f"denied-peer-ip={ip}" for ip in (ALL_PEERS if janus else DENIED_PEERS)]
        return "\n".join(lines) + "\n"


def _value(value: str) -> str:
    if any(ord(c) < 0x20 for c in value) or not value:
        raise ValueError("a TURN setting is empty or holds a control character")
    return value

"""TURN credentials in the shared-secret scheme coturn calls ``use-auth-secret`` (the "TURN REST API"
draft): no account per participant, only a secret meetkit and the TURN server share.

- username = ``"<expiry unix time>:<participant id>"``; the TURN server refuses it once expired;
- credential = base64(HMAC-SHA1(secret, username)), which the TURN server recomputes.

Pure: the time is given. A set is handed out for ``ttl`` seconds and its successor is due at
:data:`REFRESH_AT` of that, so a page always holds a valid set when it opens or restarts a connection.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

REFRESH_AT = 0.75
"""Fresh credentials are sent when this fraction of the last set's lifetime has passed."""


@dataclass(frozen=True)
class IceServer:
    """One entry of ``RTCConfiguration.iceServers``."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class IceServerSet:
    servers: tuple[IceServer, ...]
    expires_at: datetime


def username(participant_id: str, expires_at: datetime) -> str:
    return f"{int(expires_at.timestamp())}:{participant_id}"


def credential(secret: bytes, name: str) -> str:
    return base64.b64encode(hmac.new(secret, name.encode(), hashlib.sha1).digest()).decode()


def turn_urls(host: str, port: int, tls_port: int | None = None) -> tuple[str, ...]:
    """The URLs of one TURN server: UDP and TCP on ``port``, TLS on ``tls_port`` when it has TLS."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    urls = [f"turn:{host}:{port}?transport=udp", f"turn:{host}:{port}?transport=tcp"]
    if tls_port is not None:
        urls.append(f"turns:{host}:{tls_port}?transport=tcp")
    return tuple(urls)


@dataclass(frozen=True)
class TurnCredentials:
    """Issues the ICE servers of one deployment's TURN server."""

    urls: tuple[str, ...]
    secret: bytes
    ttl: int

    def issue(self, participant_id: str, now: datetime) -> IceServerSet:
        expires_at = now.replace(microsecond=0) + timedelta(seconds=self.ttl)
        name = username(participant_id, expires_at)
        server = IceServer(urls=self.urls, username=name, credential=credential(self.secret, name))
        return IceServerSet(servers=(server,), expires_at=expires_at)

    def refresh_delay(self) -> float:
        """Seconds from issuing a set to sending the next."""
        return self.ttl * REFRESH_AT

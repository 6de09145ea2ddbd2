"""Which callback targets meetkit may call, and where exactly it connects for one.

A callback URL must be http or https. Unless ``allow_private_callback_targets`` is set, every address
its host resolves to must be public (domain/addresses.py: an explicit deny list, not
``ipaddress.is_global``), and the connection goes to
the address that was checked, not to a second DNS answer (no rebinding between check and connect),
with the URL's host name kept for TLS (SNI, certificate). The check is made on every attempt."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket

import httpx

from ..domain.addresses import non_public_reason
from .webhook_http import Origin


class Refused(Exception):
    """The target is not one meetkit may call (a private address, a wrong scheme): not retried."""


def safe_target(url: str) -> str:
    """The target as it may be logged: scheme, host and port (paths and queries may hold tokens)."""
    try:
        u = httpx.URL(url)
        return f"{u.scheme}://{u.host}{f':{u.port}' if u.port else ''}"
    except Exception:
        return "<unparsable url>"


@functools.lru_cache(maxsize=1024)
def _parse_target(url: str) -> tuple[str, str, int, str, bytes]:
    """A callback URL's scheme, host, port, Host header and request target (path and query)."""
    try:
        parsed = httpx.URL(url)
    except Exception as exc:
        raise Refused("not a valid URL") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise Refused("only http and https URLs are called")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return parsed.scheme, parsed.host, port, parsed.netloc.decode("ascii"), parsed.raw_path


async def pin(url: str, *, allow_private: bool) -> tuple[Origin, str, bytes]:
    """Where to connect for ``url``, its Host header and its request target. Raises ``Refused`` for a
    target meetkit may not call, ``OSError`` when its host does not resolve."""
    scheme, host, port, netloc, target = _parse_target(url)
    if allow_private:
        return Origin(scheme, host, port, host), netloc, target
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [ipaddress.ip_address(str(info[4][0])) for info in infos]  # a zone index is refused
    if not addresses:
        raise OSError("no address")
    for address in addresses:
        reason = non_public_reason(address)
        if reason is not None:
            raise Refused(f"{host} resolves to a private, loopback or link-local address, or another that is "
                          f"not public ({address}: {reason}); "
                          "set MEETKIT_ALLOW_PRIVATE_CALLBACK_TARGETS=true to allow it")
    return Origin(scheme, str(addresses[0]), port, host), netloc, target

"""Which sites may frame an application's meetings: origins as browsers send them, how they are
written down, and how one is matched (the same rules for CSP ``frame-ancestors``, the meeting
socket's ``Origin`` check and the UI's postMessage target).

An origin is ``scheme://host[:port]`` with scheme http or https, no path, query, fragment or user.
One wildcard form is allowed: ``https://*.example.com`` — any subdomain of example.com (not
example.com itself), as CSP defines it; the ``*`` stands for one or more whole labels and must be
followed by at least two labels, so ``https://*.com`` is refused."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

MAX_ORIGINS = 20
MAX_ORIGIN_LENGTH = 255
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_ORIGIN = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>\[[0-9A-Fa-f:.]+\]|[^/:?#@\[\]]+)"
                     r"(?::(?P<port>[0-9]{1,5}))?")


class OriginError(ValueError):
    """The text is not an origin meetkit accepts; the message says why (it names the text given)."""


def _host(host: str, wildcard_allowed: bool) -> str:
    if host.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError as exc:
            raise OriginError("not an IPv6 address") from exc
    host = host.lower().rstrip(".") if host != "." else host
    labels = host.split(".")
    wildcard = labels[0] == "*"
    if wildcard:
        if not wildcard_allowed:
            raise OriginError("a wildcard is not allowed here")
        if len(labels) < 3:
            raise OriginError("a wildcard needs at least two labels after it (https://*.example.com)")
        labels = labels[1:]
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise OriginError("the host must be a DNS name, an IPv4 address or a bracketed IPv6 address")
    if not wildcard and all(label.isdigit() for label in labels):
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError as exc:
            raise OriginError("not an IPv4 address") from exc
    return host


def normalize_origin(text: str, *, wildcard_allowed: bool = True) -> str:
    """The origin as a browser serialises it (lowercase, no default port, no trailing slash)."""
    if not isinstance(text, str) or not text or len(text) > MAX_ORIGIN_LENGTH:
        raise OriginError(f"an origin is 1 to {MAX_ORIGIN_LENGTH} characters")
    m = _ORIGIN.fullmatch(text.removesuffix("/") if text.count("/") == 3 else text)
    if m is None:
        raise OriginError(f"{text!r} is not scheme://host[:port] (no path, query or user)")
    scheme = m["scheme"].lower()
    if scheme not in _DEFAULT_PORTS:
        raise OriginError(f"{text!r}: the scheme must be http or https")
    host = _host(m["host"], wildcard_allowed)
    port = m["port"]
    if port is not None:
        number = int(port)
        if not 0 < number < 65536:
            raise OriginError(f"{text!r}: the port must be 1 to 65535")
        if number != _DEFAULT_PORTS[scheme]:
            return f"{scheme}://{host}:{number}"
    return f"{scheme}://{host}"


def normalize_origins(texts: Iterable[str]) -> list[str]:
    """A list of allowed embedding origins, normalised, duplicates dropped, order kept; OriginError
    naming the first bad one."""
    out: list[str] = []
    for text in texts:
        origin = normalize_origin(text)
        if origin not in out:
            out.append(origin)
    if len(out) > MAX_ORIGINS:
        raise OriginError(f"at most {MAX_ORIGINS} embedding origins")
    return out


def origin_matches(origin: str, allowed: str) -> bool:
    """``origin`` (normalised, no wildcard) is ``allowed``, or a subdomain origin its wildcard covers
    (same scheme and port)."""
    if "://*." not in allowed:
        return origin == allowed
    scheme, rest = allowed.split("://*.", 1)
    o_scheme, _, o_rest = origin.partition("://")
    if o_scheme != scheme:
        return False
    suffix_host, _, suffix_port = rest.partition(":")
    o_host, _, o_port = o_rest.partition(":")
    return o_port == suffix_port and o_host.endswith("." + suffix_host) and len(o_host) > len(suffix_host) + 1


def origin_allowed(origin: str | None, allowed: Sequence[str]) -> bool:
    """A browser's ``Origin`` header value is one of ``allowed`` (the literal ``null`` never is)."""
    if not origin or origin == "null":
        return False
    try:
        normalized = normalize_origin(origin, wildcard_allowed=False)
    except OriginError:
        return False
    return any(origin_matches(normalized, a) for a in allowed)


def frame_ancestors(allowed: Sequence[str] | None) -> str | None:
    """The CSP ``frame-ancestors`` directive for a list of allowed embedding origins: None when no
    list is set (any site may frame, as before lists existed), ``'none'`` for an empty list."""
    if allowed is None:
        return None
    return "frame-ancestors " + (" ".join(allowed) if allowed else "'none'")

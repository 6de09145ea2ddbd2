"""What meetkit reads in, and trims from, a browser's SDP before Janus sees it."""

from __future__ import annotations

import ipaddress
import re

_VIDEO_SECTION = re.compile(r"^m=video (\d+) [^\r\n]*(?:\r?\n(?!m=)[^\r\n]*)*", re.MULTILINE)

Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def sends_video(sdp: str) -> bool:
    """Whether an offer sends video: an m=video section with a port and a sending direction."""
    for section in _VIDEO_SECTION.finditer(sdp):
        if section.group(1) == "0":
            continue
        lines = {line.strip() for line in section.group(0).splitlines()}
        if "a=inactive" in lines or "a=recvonly" in lines:
            continue
        return True
    return False


def parse_networks(value: str | None) -> Networks | None:
    if not value:
        return None
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())


def keep_candidates(sdp: str, networks: Networks | None) -> str:
    """Drop the browser's ICE candidates whose address is outside ``networks`` (None keeps all), so Janus
    never sends connectivity checks there. mDNS (.local) names are dropped too when filtering."""
    if networks is None:
        return sdp
    out = []
    for line in sdp.split("\n"):
        if line.startswith("a=candidate:") and not keep_candidate(line[2:], networks):
            continue
        out.append(line)
    return "\n".join(out)


def keep_candidate(candidate: str, networks: Networks | None) -> bool:
    """The same rule for one trickled candidate (``candidate:<foundation> <component> <transport>
    <priority> <address> <port> typ …``, as in ``RTCIceCandidate.candidate``)."""
    if networks is None:
        return True
    fields = candidate.split()
    try:
        address = ipaddress.ip_address(fields[4])
    except (IndexError, ValueError):
        return False
    return any(address in net for net in networks)


def has_simulcast(sdp: str) -> bool:
    """Whether an offer sends simulcast layers (``a=simulcast:send``, the rids listed in the browser's
    ``sendEncodings`` order)."""
    return any(line.strip().startswith("a=simulcast:send") for line in sdp.splitlines())

"""Which IP addresses are public: the rule behind webhook targets (SSRF, finding 11 of issue 10).

``ipaddress.is_global`` is not the rule: it lets through addresses that reach the host or its
network by another road (``::127.0.0.1``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``, site-local
``fec0::/10``, multicast). Instead, an explicit deny list of every range that is not plain public
unicast, and for IPv6 only the global unicast block 2000::/3 is admitted at all. Ranges that embed
an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) are refused whole, whatever they embed: a
relay or translator may carry them anywhere."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

# (network, what it is); the first match names the reason.
NON_PUBLIC_IPV4: tuple[tuple[IPv4Network, str], ...] = tuple((IPv4Network(n), why) for n, why in (
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space (CGNAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
))

NON_PUBLIC_IPV6: tuple[tuple[IPv6Network, str], ...] = tuple((IPv6Network(n), why) for n, why in (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::ffff:0:0/96", "IPv4-mapped"),
    ("::ffff:0:0:0/96", "IPv4-translated"),
    ("::/96", "IPv4-compatible"),
    ("64:ff9b::/96", "NAT64"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("2001::/32", "Teredo"),
    ("2001:2::/48", "benchmarking"),
    ("2001:10::/28", "ORCHID"),
    ("2001:20::/28", "ORCHIDv2"),
    ("2001::/23", "IETF protocol assignments"),
    ("2001:db8::/32", "documentation"),
    ("2002::/16", "6to4"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "SRv6 SIDs"),
    ("fc00::/7", "unique local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
))

GLOBAL_UNICAST_IPV6 = IPv6Network("2000::/3")


def non_public_reason(address: IPv4Address | IPv6Address | str) -> str | None:
    """Why ``address`` is not public (the range it is in), or None when it is public unicast."""
    addr = ip_address(address) if isinstance(address, str) else address
    if isinstance(addr, IPv4Address):
        return next((why for net, why in NON_PUBLIC_IPV4 if addr in net), None)
    if addr.scope_id:
        return "scoped (zone index)"
    found = next((why for net, why in NON_PUBLIC_IPV6 if addr in net), None)
    if found is None and addr not in GLOBAL_UNICAST_IPV6:
        return "not global unicast (outside 2000::/3)"
    return found


def is_public_address(address: IPv4Address | IPv6Address | str) -> bool:
    """Whether meetkit may call this address without ``allow_private_callback_targets``."""
    return non_public_reason(address) is None


def client_key(host: str) -> str:
    """The key per-address limits count under: an IPv4 address as it is, an IPv6 address by its /64
    (one host or home network usually holds a whole /64, so counting single IPv6 addresses would let it
    rotate past every cap); anything that is not an address as given."""
    try:
        address = ip_address(host)
    except ValueError:
        return host
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(IPv6Network((address, 64), strict=False))
    return str(address)

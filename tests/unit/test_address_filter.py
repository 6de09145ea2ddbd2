"""The SSRF rule (issue 10, finding 11): every non-public range is refused by an explicit table, not
by ``ipaddress.is_global`` (which let ``::127.0.0.1``, NAT64, 6to4, site-local and multicast pass),
and the webhook worker's pin() applies it to literal hosts and to every DNS answer."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from meetkit.domain.addresses import NON_PUBLIC_IPV4, NON_PUBLIC_IPV6, is_public_address, non_public_reason
from meetkit.worker.webhook_targets import Refused, pin

# One address inside each range, and the reason it is refused.
REFUSED = [
    ("0.1.2.3", "this network"),
    ("10.1.2.3", "private"),
    ("100.64.0.1", "shared address space (CGNAT)"),
    ("100.127.255.254", "shared address space (CGNAT)"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.169.254", "link-local"),  # the cloud metadata service
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.0.0.9", "IETF protocol assignments"),
    ("192.0.2.7", "documentation (TEST-NET-1)"),
    ("192.88.99.1", "6to4 relay anycast"),
    ("192.168.1.1", "private"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("198.51.100.7", "documentation (TEST-NET-2)"),
    ("203.0.113.7", "documentation (TEST-NET-3)"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("255.255.255.255", "broadcast"),
    ("240.0.0.1", "reserved"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "IPv4-mapped"),
    ("::ffff:8.8.8.8", "IPv4-mapped"),
    ("::ffff:0:10.0.0.1", "IPv4-translated"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("::10.0.0.1", "IPv4-compatible"),
    ("64:ff9b::7f00:1", "NAT64"),
    ("64:ff9b::808:808", "NAT64"),
    ("64:ff9b:1::a00:1", "local-use NAT64"),
    ("100::1", "discard-only"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("2001:2::1", "benchmarking"),
    ("2001:10::1", "ORCHID"),
    ("2001:20::1", "ORCHIDv2"),
    ("2001:1::1", "IETF protocol assignments"),
    ("2001:db8::1", "documentation"),
    ("2002:7f00:1::1", "6to4"),  # embeds 127.0.0.1
    ("2002:808:808::1", "6to4"),  # embeds a public address: a relay may still carry it anywhere
    ("3fff::1", "documentation"),
    ("5f00::1", "SRv6 SIDs"),
    ("fc00::1", "unique local"),
    ("fd12:3456:789a::1", "unique local"),
    ("fe80::1", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("4000::1", "not global unicast (outside 2000::/3)"),
    ("1::1", "not global unicast (outside 2000::/3)"),
    ("fe80::1%eth0", "scoped (zone index)"),
]

PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.215.14", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
          "192.0.1.1", "198.17.255.255", "198.20.0.0", "223.255.255.255",
          "2606:4700:4700::1111", "2a00:1450:4001::200e", "2001:4860:4860::8888", "2001:200::1", "2003::1"]


@pytest.mark.parametrize(("address", "reason"), REFUSED, ids=[a for a, _ in REFUSED])
def test_every_non_public_range_is_refused(address: str, reason: str) -> None:
    assert non_public_reason(address) == reason
    assert not is_public_address(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_unicast_is_allowed(address: str) -> None:
    assert non_public_reason(address) is None and is_public_address(address)


def test_every_table_row_is_exercised() -> None:
    reasons = {why for _, why in REFUSED}
    assert {why for _, why in NON_PUBLIC_IPV4} <= reasons
    assert {why for _, why in NON_PUBLIC_IPV6} <= reasons


def test_ranges_is_global_let_through_are_refused() -> None:
    """The reproduction of the finding: each of these is_global said was public."""
    import ipaddress

    for address in ("::127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::1", "fec0::1", "ff0e::1", "3fff::1"):
        assert ipaddress.ip_address(address).is_global
        assert not is_public_address(address)


@pytest.mark.parametrize("url", ["http://[::127.0.0.1]/hook", "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a00:1::]/",
                                 "https://[fec0::1]:8443/x", "http://[ff02::1]/", "http://169.254.169.254/latest",
                                 "http://100.64.1.1/", "http://198.18.0.1/", "http://[::ffff:127.0.0.1]/"])
def test_pin_refuses_literal_non_public_hosts(url: str) -> None:
    with pytest.raises(Refused, match="MEETKIT_ALLOW_PRIVATE_CALLBACK_TARGETS"):
        asyncio.run(pin(url, allow_private=False))


def test_the_escape_hatch_still_allows_them() -> None:
    origin, host, target = asyncio.run(pin("http://[::127.0.0.1]:8080/hook?a=1", allow_private=True))
    assert (origin.host, origin.port, host, target) == ("::127.0.0.1", 8080, "[::127.0.0.1]:8080", b"/hook?a=1")


def test_pin_checks_every_dns_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name that resolves to one public and one NAT64 address is refused (checked at resolution
    time, on every attempt; the connection goes to the address that was checked)."""
    answers = {"mixed.example": ["93.184.215.14", "64:ff9b::7f00:1"], "public.example": ["93.184.215.14"]}

    async def go(url: str) -> Any:
        loop = asyncio.get_running_loop()

        async def resolve(host: str, port: int, **_kw: Any) -> list[Any]:
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                    for a in answers[host]]

        monkeypatch.setattr(loop, "getaddrinfo", resolve)
        return await pin(url, allow_private=False)

    with pytest.raises(Refused, match="NAT64"):
        asyncio.run(go("https://mixed.example/hook"))
    origin, _, _ = asyncio.run(go("https://public.example/hook"))
    assert origin.host == "93.184.215.14" and origin.server_name == "public.example"


def test_per_address_limits_count_ipv6_by_its_64() -> None:
    from meetkit.domain.addresses import client_key

    assert client_key("127.0.0.7") == "127.0.0.7"
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:10.0.0.1") == "10.0.0.1"  # a mapped IPv4 is that IPv4
    assert client_key("unknown") == "unknown"

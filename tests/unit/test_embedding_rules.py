"""Embedding origins as pure rules (domain/embedding.py): the normal form, the one wildcard form,
matching as browsers send Origin, and the frame-ancestors directive."""

from __future__ import annotations

import pytest

from meetkit.domain.embedding import (
    MAX_ORIGINS,
    OriginError,
    frame_ancestors,
    normalize_origin,
    normalize_origins,
    origin_allowed,
)


@pytest.mark.parametrize(("given", "stored"), [
    ("https://Shop.Example.COM", "https://shop.example.com"),
    ("https://shop.example.com:443", "https://shop.example.com"),
    ("http://shop.example.com:80/", "http://shop.example.com"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("https://[::1]:8443", "https://[::1]:8443"),
    ("https://[0:0:0:0:0:0:0:1]", "https://[::1]"),
    ("HTTPS://*.Acme.io", "https://*.acme.io"),
    ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
])
def test_origins_are_stored_as_browsers_send_them(given: str, stored: str) -> None:
    assert normalize_origin(given) == stored


@pytest.mark.parametrize("bad", [
    "", "*", "null", "example.com", "//example.com", "https://", "https://example.com/path", "https://example.com//",
    "https://example.com?q", "https://example.com#f", "https://user:pw@example.com", "ftp://example.com",
    "javascript:alert(1)", "data:text/html,x", "https://*.com", "https://*", "https://a.*.example.com",
    "https://*example.com", "https://exa_mple.com", "https://bücher.example", "https://example.com:0",
    "https://example.com:65536", "https://300.1.1.1", "https://[::g]", "https://a.com https://b.com",
    "https://a.com;frame-ancestors *", "https://" + "a" * 250 + ".com",
])
def test_bad_origins_are_refused(bad: str) -> None:
    with pytest.raises(OriginError):
        normalize_origin(bad)


def test_lists_drop_duplicates_keep_order_and_are_bounded() -> None:
    assert normalize_origins(["https://b.com", "https://a.com", "https://B.com:443"]) == [
        "https://b.com", "https://a.com"]
    with pytest.raises(OriginError):
        normalize_origins([f"https://s{i}.example.com" for i in range(MAX_ORIGINS + 1)])


def test_matching_an_origin_header() -> None:
    allowed = ["https://shop.example.com", "http://127.0.0.1:8000", "https://*.acme.io"]
    assert origin_allowed("https://shop.example.com", allowed)
    assert origin_allowed("https://SHOP.example.com:443", allowed)
    assert origin_allowed("http://127.0.0.1:8000", allowed)
    assert origin_allowed("https://eu.acme.io", allowed)
    assert origin_allowed("https://a.b.acme.io", allowed)
    for no in ("https://acme.io", "http://eu.acme.io", "https://eu.acme.io:8443", "https://evilacme.io",
               "https://shop.example.com.evil.com", "http://shop.example.com", "http://127.0.0.1:8001",
               "null", "", None, "https://*.acme.io", "not an origin"):
        assert not origin_allowed(no, allowed), no


def test_frame_ancestors() -> None:
    assert frame_ancestors(None) is None
    assert frame_ancestors([]) == "frame-ancestors 'none'"
    assert frame_ancestors(["https://a.com", "https://*.b.com"]) == "frame-ancestors https://a.com https://*.b.com"

"""The Content-Security-Policy of the meeting pages (docs/embed.md).

Scripts only from meetkit itself, no inline script and no eval: the page's configuration is a
``<script type="application/json">`` block, which is data and never runs (pages._script_json keeps
it from closing its element). Styles from meetkit's stylesheet only (the UI sets custom properties
through the CSSOM, which a CSP does not restrict). Images from meetkit (logos, favicon) and, with an
S3 store, from the bucket the logo URLs redirect to. The socket goes back to the page's own host.
``frame-ancestors`` comes from the application's allowed embedding origins."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from ..domain.embedding import frame_ancestors

# What may stand in a Host header we echo into the policy: a host and port, nothing that ends a directive.
_NETLOC = re.compile(r"[A-Za-z0-9.\-]+(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")

ERROR_PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def origin_of(url: str | None) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, else None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or not _NETLOC.fullmatch(parts.netloc):
        return None
    return f"{parts.scheme}://{parts.netloc}"


# Watch together (docs/watch.md): YouTube's player is a frame of YouTube's, driven with its IFrame API's
# messages (postMessage), so no script of YouTube's runs in the page.
YOUTUBE_FRAMES = "https://www.youtube.com https://www.youtube-nocookie.com"


def _with_origins(base: list[str], urls: Iterable[str | None]) -> list[str]:
    out = list(base)
    for url in urls:
        origin = origin_of(url)
        if origin is not None and origin not in out:
            out.append(origin)
    return out


def meeting_policy(scheme: str, netloc: str, embed_origins: list[str] | None, image_urls: Iterable[str | None],
                   store_url: str | None = None) -> str:
    """The policy of one meeting page, reached at ``scheme://netloc``; ``store_url``: an S3 store that
    logos and uploaded videos redirect to."""
    images = _with_origins(["'self'", "data:", "blob:"], [*image_urls, store_url])
    # Any HTTPS video may be watched together: the link is chosen after the page loaded.
    media = _with_origins(["'self'", "blob:", "mediastream:", "https:"], [store_url])
    connect = ["'self'"]
    if _NETLOC.fullmatch(netloc):
        connect.append(f"{'wss' if scheme == 'https' else 'ws'}://{netloc}")
    directives = [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src " + " ".join(images),
        "media-src " + " ".join(media),
        f"frame-src {YOUTUBE_FRAMES}",
        "connect-src " + " ".join(connect),
        "font-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
    ]
    ancestors = frame_ancestors(embed_origins)
    if ancestors is not None:
        directives.append(ancestors)
    return "; ".join(directives)

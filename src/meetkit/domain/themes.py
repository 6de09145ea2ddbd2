"""Rules for themes and their logos."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAIN_COLOR_RE = re.compile(r"^#([a-fA-F0-9]{6}|[a-fA-F0-9]{3})$")
SHORT_COMPANY_URL_RE = re.compile(r"^(?=.*[a-zA-Z_~-])([a-zA-Z0-9_~-]+)$")

# A theme's links are <public_url>/<short_company_url>/<code>: a short URL must not be a path the
# server itself answers (the API and its aliases, the UI's assets and socket, the embed helper, the
# API docs) or one a reverse proxy commonly claims. Compared case-insensitively.
RESERVED_SHORT_COMPANY_URLS = frozenset({
    "meetings", "v1", "v2", "beta", "_meetkit", "embed.js", "embed.d.ts", "static", "assets", "uploads", "docs",
    "redoc",
    "openapi.json", "api", "health", "healthz", "livez", "readyz", "metrics", "status", "admin", "login",
    "logout", "auth", "oauth", "ws", "websocket", "favicon.ico", "robots.txt", ".well-known", "well-known",
    "meetkit", "_next", "cdn-cgi",
})


def short_company_url_problem(value: str) -> str | None:
    """Why ``value`` cannot be a theme's short company URL, or None when it can."""
    if not SHORT_COMPANY_URL_RE.fullmatch(value):
        return "may hold only letters, digits, _ ~ - and at least one letter, _ ~ or -"
    if value.lower() in RESERVED_SHORT_COMPANY_URLS:
        return f"{value.lower()!r} is reserved: a path of meetkit's own"
    return None


class LogoType(StrEnum):
    WHITE = "white"
    COLORED = "colored"
    FAVICON = "favicon"


# Theme column holding each logo type's storage key.
LOGO_COLUMN = {
    LogoType.WHITE: "brand_image_white",
    LogoType.COLORED: "brand_image_colored",
    LogoType.FAVICON: "branded_favicon",
}

TEMP_LOGO_PREFIX = "auto-expiring-temp/logos/"


@dataclass(frozen=True)
class LogoLimits:
    max_bytes: int = 1024 * 1024
    logo_min_px: int = 1
    logo_max_px: int = 300
    favicon_min_px: int = 16
    favicon_max_px: int = 32


def dimensions_ok(logo_type: LogoType, width: int, height: int, limits: LogoLimits) -> bool:
    if logo_type is LogoType.FAVICON:
        return width == height and limits.favicon_min_px <= width <= limits.favicon_max_px
    return all(limits.logo_min_px <= d <= limits.logo_max_px for d in (width, height))


def logo_type_of_temp_key(key: str) -> LogoType | None:
    """``auto-expiring-temp/logos/<type>/<uuid>`` → the type, or None when the key is not of that shape."""
    if not key.startswith(TEMP_LOGO_PREFIX):
        return None
    rest = key[len(TEMP_LOGO_PREFIX) :].split("/")
    if len(rest) != 2 or not re.fullmatch(r"[0-9a-f-]{36}", rest[1]):
        return None
    try:
        return LogoType(rest[0])
    except ValueError:
        return None

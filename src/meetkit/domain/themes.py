"""Rules for themes and their logos."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAIN_COLOR_RE = re.compile(r"^#([a-fA-F0-9]{6}|[a-fA-F0-9]{3})$")
SHORT_COMPANY_URL_RE = re.compile(r"^(?=.*[a-zA-Z_~-])([a-zA-Z0-9_~-]+)$")


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

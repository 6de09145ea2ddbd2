"""The per-browser id: a random id meetkit signs and gives a browser in ``welcome``; the browser keeps
it (localStorage) and sends it in each later ``hello``. It lets meetkit know a removed participant
coming back from the same browser. Best effort by nature: a new browser profile, a private window or
cleared storage gets a new id. The signature (HMAC with the server secret) keeps a browser from
choosing an id, so nobody can claim another browser's id to get it held in the lobby."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_PREFIX = "b1"


def _signature(secret: bytes, key: str) -> str:
    mac = hmac.new(secret, f"browser:{key}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def new_browser_id(secret: bytes) -> tuple[str, str]:
    """(the id's random part, to store; the signed id, for the browser)."""
    key = secrets.token_urlsafe(16)
    return key, f"{_PREFIX}.{key}.{_signature(secret, key)}"


def verified_browser_key(secret: bytes, signed: str | None) -> str | None:
    """The random part of a signed id this server gave out, or None (absent, malformed or forged)."""
    if not signed:
        return None
    parts = signed.split(".")
    if len(parts) != 3 or parts[0] != _PREFIX or not 16 <= len(parts[1]) <= 64:
        return None
    if not hmac.compare_digest(_signature(secret, parts[1]).encode(), parts[2].encode()):
        return None
    return parts[1]

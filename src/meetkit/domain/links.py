"""Where meetkit's things live on the wire, for every layer that writes a link: the API's prefix and
the signature of a recording's expiring download link."""

from __future__ import annotations

import hashlib
import hmac

API_PREFIX = "/v1/meetings"


def download_signature(secret: bytes, recording_id: str, expires: int) -> str:
    """The HMAC that makes a download link valid until ``expires`` (Unix seconds)."""
    return hmac.new(secret, f"recording:{recording_id}:{expires}".encode(), hashlib.sha256).hexdigest()

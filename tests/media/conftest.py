"""The media tier: a real Janus (meetkit's own, on free ports) and aiortc peers on the 127.0.0.5 link."""

from __future__ import annotations

import pytest

from .. import support


@pytest.fixture(scope="module")
def media_net() -> None:
    """The veth carrying support.MEDIA_ADDR (scripts/media-net.sh; root)."""
    support.media_net()

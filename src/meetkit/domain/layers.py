"""Which simulcast layer of a camera fits a tile: cameras publish 320x180, 640x360 and 1280x720
(substreams 0, 1, 2); a tile gets the smallest layer at least as wide as itself, the lowest on a low
bandwidth choice. Screens are not simulcast: they are always sent whole."""

from __future__ import annotations

LAYER_WIDTHS = (360, 720)  # tile width (device pixels) up to which substream 0, then 1, fits


def substream_for(width: int, *, low_bandwidth: bool) -> int:
    if low_bandwidth:
        return 0
    for substream, up_to in enumerate(LAYER_WIDTHS):
        if width <= up_to:
            return substream
    return len(LAYER_WIDTHS)

"""Receive-only accounting for aiortc: what arrives per stream, and no decoding.

aiortc starts a decoder thread for every receiver; a synthetic receiver only needs to know what
arrived. ``install()`` patches aiortc once per process: RTP is routed by the mid header extension
first (as browsers do), and for receivers marked with ``watch(receiver)`` only: their RTP packets
are counted (packets, payload bytes, first/last arrival) before
aiortc's own handling (which still keeps the RTCP statistics, NACKs and receiver reports), and their
assembled frames are dropped instead of decoded. Unmarked receivers (other tests) are untouched.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass
from typing import Any

_installed = False


@dataclass
class StreamCount:
    kind: str
    packets: int = 0
    bytes: int = 0
    first_at: float | None = None  # time.monotonic()
    last_at: float | None = None
    frames: int = 0  # frames assembled (and dropped, not decoded)

    def add(self, size: int) -> None:
        now = time.monotonic()
        if self.first_at is None:
            self.first_at = now
        self.last_at = now
        self.packets += 1
        self.bytes += size


def install() -> None:
    """Patch aiortc's receiver (idempotent)."""
    global _installed
    if _installed:
        return
    from aiortc import rtcrtpreceiver

    handle = rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet
    decoder = rtcrtpreceiver.decoder_worker

    async def counting(self: Any, packet: Any, arrival_time_ms: int) -> None:
        count = getattr(self, "synthetic_count", None)
        if count is not None:
            count.add(len(packet.payload))
        await handle(self, packet, arrival_time_ms)

    def dropping(loop: Any, input_q: queue.Queue[Any], output_q: Any, error: Any) -> None:
        count = getattr(output_q, "synthetic_count", None)
        if count is None:
            decoder(loop, input_q, output_q, error)
            return
        while input_q.get() is not None:  # None: the receiver stopped
            count.frames += 1

    # aiortc routes RTP by SSRC, else by payload type when only one receiver has it; with several video
    # m-lines on one subscriber connection (all VP8, one payload type) an unannounced SSRC would go
    # nowhere or to the wrong receiver. Browsers demultiplex by the mid header extension (RFC 8843),
    # which Janus sends: do the same before aiortc's own rules.
    from aiortc import rtcdtlstransport

    route = rtcdtlstransport.RtpRouter.route_rtp

    def by_mid(self: Any, packet: Any) -> Any:
        if packet.ssrc not in self.ssrc_table:
            mid = getattr(packet.extensions, "mid", None)
            receiver = self.mid_table.get(mid) if mid is not None else None
            if receiver is not None:
                self.ssrc_table[packet.ssrc] = receiver
                return receiver
        return route(self, packet)

    rtcdtlstransport.RtpRouter.route_rtp = by_mid  # type: ignore[method-assign]
    rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet = counting  # type: ignore[method-assign]
    rtcrtpreceiver.decoder_worker = dropping
    _installed = True


def watch(receiver: Any) -> StreamCount:
    """Count this receiver's packets and do not decode them; call before its transport starts."""
    install()
    count: StreamCount | None = getattr(receiver, "synthetic_count", None)
    if count is None:
        count = StreamCount(receiver.track.kind)
        receiver.synthetic_count = count
        receiver.track._queue.synthetic_count = count  # what the decoder thread is given
    return count

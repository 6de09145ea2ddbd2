"""Synthetic meeting participants for tests and bench/room_load.py: no browser, no camera, no decoding.

- ``clips``: pre-encoded VP8 + Opus clips (testsrc2 + a sine tone at 320x180, 640x360, 1280x720), made
  once with Debian's ffmpeg into a cache folder and held in memory as packets.
- ``tracks``: aiortc tracks that send those packets as they are (aiortc packs a pre-encoded packet
  into RTP without an encoder), paced in real time and looped with growing timestamps.
- ``receiving``: receive-only accounting: packets and bytes per stream, and no decoder.
- ``participant``: ``SyntheticPublisher`` (hello, admission, ``media.publish`` with a complete SDP over
  meetkit's real meeting socket, real WebRTC to Janus) and ``SyntheticReceiver`` (one subscriber
  peer connection: ``media.view`` → ``media.offer`` → ``media.answer``).

Why aiortc and not GStreamer's webrtcbin: aiortc is already in the venv and used by tests/media (the
same ICE patch to 127.0.0.5, the same SDP path meetkit's tests exercise), it sends pre-encoded packets
through its public track API (``recv()`` returning an ``av.Packet``), and a receiver's decoder is one
function to replace; webrtcbin needs python3-gi + gir1.2-gst-plugins-bad-1.0 from apt and a GLib main
loop beside asyncio. aiortc's cost is Python per packet: what one synthetic participant costs is
printed by bench/room_load.py (it runs in its own processes, apart from meetkit and Janus).
Limits: aiortc sends no simulcast (one layer per publisher: choose the clip's size), and answers
PLI with nothing (the clips have a key frame every second instead).
"""

from .clips import SIZES, Clip, clip
from .participant import SyntheticPublisher, SyntheticReceiver, loopback_ice

__all__ = ["SIZES", "Clip", "SyntheticPublisher", "SyntheticReceiver", "clip", "loopback_ice"]

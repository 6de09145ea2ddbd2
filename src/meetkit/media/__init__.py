"""The media plane: Janus (videoroom) behind meetkit. See docs/media.md.

- :mod:`.janus`: a small asyncio client for the Janus WebSocket API;
- :mod:`.videoroom`: :class:`MediaServer` and :class:`MediaParticipant`, what the rest of meetkit uses;
- :mod:`.supervisor`: :class:`JanusSupervisor`, which runs meetkit's own Janus (``media_mode=managed``).
"""

from .janus import JanusClient, JanusClosedError, JanusError, JanusHandle, JanusSession, JanusTimeoutError
from .supervisor import JanusSupervisor
from .videoroom import MediaEvent, MediaParticipant, MediaServer

__all__ = [
    "JanusClient",
    "JanusClosedError",
    "JanusError",
    "JanusHandle",
    "JanusSession",
    "JanusSupervisor",
    "JanusTimeoutError",
    "MediaEvent",
    "MediaParticipant",
    "MediaServer",
]

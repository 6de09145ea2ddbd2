"""The media plane: Janus (videoroom) behind meetkit. See docs/media.md.

- :mod:`.janus`: a small asyncio client for the Janus WebSocket API;
- :mod:`.videoroom`: :class:`MediaServer` (rooms), what the rest of meetkit uses, and
  :mod:`.participant`: :class:`MediaParticipant` (one participant's publishers and subscriptions);
- :mod:`.supervisor`: :class:`JanusSupervisor`, which runs meetkit's own Janus (``media_mode=managed``)
  from the configuration :mod:`.janus_config` writes;
- :mod:`.watchdog`: :class:`~.watchdog.Watchdog`, which keeps both Janus's process and the connection to
  it up (capped backoff on the injected clock).
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

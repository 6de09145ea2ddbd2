"""The videoroom plugin's name and the error codes meetkit reacts to (shared by rooms and participants)."""

from __future__ import annotations

PLUGIN = "janus.plugin.videoroom"

NO_SUCH_ROOM = 426
ROOM_EXISTS = 427
NO_SUCH_FEED = 428
PUBLISHERS_FULL = 432
UNAUTHORIZED = 433
ID_EXISTS = 436

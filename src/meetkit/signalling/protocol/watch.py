"""Watch together's messages, both ways (docs/watch.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from .base import ClientMessage, ServerMessage

Position = Annotated[float, Field(ge=0, le=24 * 3600, allow_inf_nan=False)]


class WatchStart(ClientMessage):
    """The host shares a video: a link (an HTTPS video file or YouTube) or a file uploaded to meetkit."""

    type: Literal["watch.start"]
    url: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    file_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None


class WatchControl(ClientMessage):
    """Play, pause or seek, from whoever has control; no ``position``: from where it is now."""

    type: Literal["watch.control"]
    playing: bool
    position: Position | None = None


class WatchHandOver(ClientMessage):
    type: Literal["watch.hand_over"]
    participant_id: Annotated[str, Field(min_length=1, max_length=64)]


class WatchStop(ClientMessage):
    type: Literal["watch.stop"]


class WatchGet(ClientMessage):
    """Asks for what is being watched (a page (re)joining): ``watch.state`` or ``watch.ended``."""

    type: Literal["watch.get"]


class WatchSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["url", "file", "youtube"]
    url: str | None = None  # url and file: what the page's <video> plays (a file: a signed link to meetkit)
    video_id: str | None = None  # youtube


class WatchState(ServerMessage):
    """Where the shared video is: ``position`` seconds at server time ``at`` (ms since the epoch),
    moving at normal speed while ``playing``. ``server_time``: the server's clock when this was sent."""

    type: Literal["watch.state"] = "watch.state"
    source: WatchSource
    sharer: str
    controller: str
    playing: bool
    position: float
    at: float
    server_time: float
    by: str | None = None  # whose change it was (None: sent to a page asking)


class WatchEnded(ServerMessage):
    type: Literal["watch.ended"] = "watch.ended"
    reason: Literal["stopped", "sharer_left", "none"]

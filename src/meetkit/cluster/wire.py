"""What nodes say to each other over Redis (channels.py): closed, typed messages, as the socket
protocol's. A node's inbox carries the relay of sockets (links.py); the rooms channel carries the
room events every node hears (bus.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

LINK_ID = r"^[0-9a-f]{16}$"
BATCH = 1000  # link messages in one publish at most


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LinkOpen(_Message):
    """Edge → owner: a browser's socket for a meeting the owner serves reached the edge node."""

    op: Literal["open"] = "open"
    link: str = Field(pattern=LINK_ID)
    edge: str  # the edge node's id: where the owner sends the socket's frames
    code: str = Field(pattern=r"^[0-9]{9}$")  # the meeting code the browser asked for


class LinkFrame(_Message):
    """Either way: one text frame of the socket (``text`` None: the browser sent a binary frame)."""

    op: Literal["frame"] = "frame"
    link: str = Field(pattern=LINK_ID)
    text: str | None


class LinkClose(_Message):
    """Either way: the socket closed (edge → owner: the browser went; owner → edge: close it with
    ``code``)."""

    op: Literal["close"] = "close"
    link: str = Field(pattern=LINK_ID)
    code: int = Field(ge=1000, le=4999)


LinkMessage = Annotated[LinkOpen | LinkFrame | LinkClose, Field(discriminator="op")]


class LinkBatch(_Message):
    """What one node's inbox receives: the link messages another node had for it, in order. Batched,
    so a broadcast to many relayed sockets is a few publishes, not one per socket and frame."""

    op: Literal["batch"] = "batch"
    items: list[LinkMessage] = Field(min_length=1, max_length=BATCH)


INBOX = TypeAdapter(LinkBatch)


class RoomEndedMessage(_Message):
    op: Literal["room_ended"] = "room_ended"
    room_id: str
    reason: Literal["expired", "deleted"]


class RoomUpdatedMessage(_Message):
    op: Literal["room_updated"] = "room_updated"
    room_id: str


RoomsMessage = Annotated[RoomEndedMessage | RoomUpdatedMessage, Field(discriminator="op")]
ROOMS = TypeAdapter(RoomsMessage)


def inbox_channel(node: str) -> str:
    return f"meetkit:node:{node}:inbox"


ROOMS_CHANNEL = "meetkit:rooms"

"""The two bases of the protocol's messages: what a browser sends (unknown fields ignored, so an
older meetkit accepts a newer page) and what meetkit sends (closed, so tests catch a stray field)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ClientMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ServerMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def frame(self) -> str:
        return self.model_dump_json(exclude_none=True)

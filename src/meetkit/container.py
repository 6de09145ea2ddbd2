"""The objects one meetkit process shares. Built only in app.py (the composition root)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .bus import Bus
from .clock import Clock
from .config import Settings
from .storage.objects import ObjectStore
from .storage.tokens import TokenLedger


@dataclass
class Container:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    objects: ObjectStore
    secret: bytes
    tokens: TokenLedger
    bus: Bus  # room events, published after commit (bus.py)
    # application_id -> its loaded public key; keys never change once an application exists.
    public_keys: dict[str, Any] = field(default_factory=dict)

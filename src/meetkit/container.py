"""The objects one meetkit process shares. Built only in app.py (the composition root)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .bus import Bus
from .clock import Clock
from .cluster.channels import Channels
from .config import Settings
from .domain.turn import TurnCredentials
from .metrics import Metrics
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
    # Sessions for reads only: on SQLite read-only connections beside the one writer (storage/db.py),
    # on PostgreSQL the same pool as ``sessions``.
    readers: async_sessionmaker[AsyncSession] | None = None
    reader_engine: AsyncEngine | None = None
    # Participants' TURN credentials (domain/turn.py); None: no TURN configured.
    turn: TurnCredentials | None = None
    # The deployment's Redis (MEETKIT_REDIS_URL); None in single-process mode.
    redis: Redis | None = None
    channels: Channels | None = None  # pub/sub between the nodes (cluster/channels.py)
    # What this process counts for /metrics (metrics.py).
    metrics: Metrics = field(default_factory=Metrics)
    # application_id -> its loaded public key; keys never change once an application exists.
    public_keys: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.readers is None:
            self.readers = self.sessions

    def read_sessions(self) -> AsyncSession:
        """A session for a request that only reads (listings, gets)."""
        assert self.readers is not None
        return self.readers()

    async def dispose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        if self.reader_engine is not None:
            await self.reader_engine.dispose()
        await self.engine.dispose()

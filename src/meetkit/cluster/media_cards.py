"""Where a meeting's owner keeps what the next owner needs to carry its media on (media/handover.py,
signalling/carry.py): one Redis hash per live meeting, ``meetkit:{room}:media``, a field per
participant (its card as JSON) and ``room`` (the media room and the Janus it is on).

Redis, not the database: the cards change with every renegotiation, are worth something only while
Janus keeps a dead connection's sessions (``MEETKIT_JANUS_RECLAIM_SECONDS``), and losing them costs
only a fresh start of the media (the browsers publish and subscribe again), as without them. The hash
expires unless rewritten."""

from __future__ import annotations

import json
import logging
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("meetkit.cluster")


def _key(room_id: str) -> str:
    return f"meetkit:{{{room_id}}}:media"


class MediaCards:
    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = max(10, ttl_seconds)

    async def save(self, room_id: str, changed: dict[str, str], gone: list[str]) -> bool:
        """Cards (JSON text) written and removed. False when Redis did not take them (tried again with
        the next look)."""
        key = _key(room_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                if gone:
                    pipe.hdel(key, *gone)
                if changed:
                    pipe.hset(key, mapping=cast(Any, changed))  # (redis-py's Mapping is invariant)
                pipe.expire(key, self._ttl)
                await pipe.execute()
            return True
        except (RedisError, OSError) as exc:
            log.warning("keeping a meeting's media cards failed: %s", type(exc).__name__)
            return False

    async def load(self, room_id: str) -> dict[str, Any]:
        try:
            raw = await self._redis.hgetall(_key(room_id))
        except (RedisError, OSError) as exc:
            log.warning("reading a meeting's media cards failed: %s", type(exc).__name__)
            return {}
        out: dict[str, Any] = {}
        for k, v in raw.items():
            try:
                out[k.decode() if isinstance(k, bytes) else str(k)] = json.loads(v)
            except ValueError:
                continue
        return out

    async def drop(self, room_id: str) -> None:
        try:
            await self._redis.delete(_key(room_id))
        except (RedisError, OSError) as exc:
            log.warning("dropping a meeting's media cards failed: %s", type(exc).__name__)

"""Room leases in Redis: which node owns a live meeting, and the meeting's fencing epoch.

Two keys per room, hash-tagged so a Redis Cluster keeps them on one shard:
``meetkit:{room}:owner`` = ``"<node>|<epoch>"`` with a TTL (the lease), and ``meetkit:{room}:epoch``,
the last epoch handed out (no TTL). Each script runs atomically in Redis, so of any number of nodes
asking at once exactly one gets the lease.

Redis may lose everything (a restart without persistence). Two rules keep that safe: an acquirer
passes the epoch the database holds (``floor``), so a new epoch is always above every epoch that ever
wrote; and an owner whose key vanished re-asserts its lease only if no newer epoch was handed out
meanwhile. The database checks the epoch on every write anyway (storage/fences.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current then return {0, current} end
local epoch = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[3])
if epoch <= floor then
  epoch = floor + 1
  redis.call('SET', KEYS[2], epoch)
end
local value = ARGV[1] .. '|' .. epoch
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return {1, value}
"""

# 1: renewed (or re-asserted after Redis lost the key); 0: another node owns it, or a newer epoch
# was handed out since.
_RENEW = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if current then return 0 end
local top = tonumber(redis.call('GET', KEYS[2]) or '0')
local mine = tonumber(ARGV[3])
if top > mine then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if top < mine then redis.call('SET', KEYS[2], mine) end
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Lease:
    room_id: str
    node: str
    epoch: int

    @property
    def value(self) -> str:
        return f"{self.node}|{self.epoch}"


def _parse(room_id: str, raw: bytes | str) -> Lease:
    text = raw.decode() if isinstance(raw, bytes) else raw
    node, _, epoch = text.rpartition("|")
    return Lease(room_id, node, int(epoch))


def _keys(room_id: str) -> list[str]:
    return [f"meetkit:{{{room_id}}}:owner", f"meetkit:{{{room_id}}}:epoch"]


class RoomLeases:
    def __init__(self, redis: Redis, ttl: float) -> None:
        self.redis = redis
        self.ttl_ms = int(ttl * 1000)
        self._acquire: Any = redis.register_script(_ACQUIRE)
        self._renew: Any = redis.register_script(_RENEW)
        self._release: Any = redis.register_script(_RELEASE)

    async def acquire(self, room_id: str, node: str, floor: int) -> tuple[bool, Lease]:
        """(True, the new lease) or (False, the current owner's lease)."""
        won, raw = await self._acquire(keys=_keys(room_id), args=[node, self.ttl_ms, floor])
        return bool(won), _parse(room_id, raw)

    async def renew(self, leases: list[Lease]) -> list[bool]:
        """Renews many leases in one round trip; which are still held."""
        if not leases:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for lease in leases:
                await self._renew(keys=_keys(lease.room_id), args=[lease.value, self.ttl_ms, lease.epoch],
                                  client=pipe)
            answers = await pipe.execute()
        return [bool(a) for a in answers]

    async def release(self, lease: Lease) -> None:
        await self._release(keys=_keys(lease.room_id), args=[lease.value])

    async def owner(self, room_id: str) -> Lease | None:
        raw = await self.redis.get(_keys(room_id)[0])
        return None if raw is None else _parse(room_id, raw)

"""A budget per client address for lookups that miss: a meeting page or a socket for a meeting code
that is not live, a REST lookup of an unknown room id. Meeting codes are nine digits, so without a
budget they can be enumerated (~620 lookups a second from one address, issue 10 finding 8).

Only misses spend the budget; once an address has none left, *every* lookup from it is refused
until the bucket refills (429 with ``Retry-After`` on pages and REST, close 4431 on sockets), so a
prober cannot tell a hit from a miss by the answer. A person who mistypes a code a few times never
notices (``MEETKIT_UNKNOWN_CODE_BURST``, ``MEETKIT_UNKNOWN_CODE_RATE``)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from ..config import Settings
from ..domain.addresses import client_key
from ..domain.ratelimit import KeyedBuckets
from ..errors import NotFound
from .errors import error_response

MESSAGE = "too many requests for unknown meetings from this address; try again later"


class ProbeThrottle:
    def __init__(self, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self._buckets = KeyedBuckets(rate, burst, max_keys)

    @classmethod
    def of(cls, settings: Settings) -> ProbeThrottle:
        return cls(settings.unknown_code_rate, settings.unknown_code_burst)

    def retry_after(self, address: str) -> float:
        """Seconds until ``address`` may look something up again; 0 when it may now."""
        return self._buckets.retry_after(address, time.monotonic())

    def missed(self, address: str) -> None:
        self._buckets.take(address, time.monotonic())


def address(conn: HTTPConnection) -> str:
    """The client's address as uvicorn resolved it (X-Forwarded-For from a loopback proxy)."""
    return client_key(conn.client.host) if conn.client is not None else "unknown"  # IPv6 by its /64


def throttle(conn: HTTPConnection) -> ProbeThrottle:
    probes: ProbeThrottle = conn.app.state.probes
    return probes


def retry_after(conn: HTTPConnection) -> float:
    return throttle(conn).retry_after(address(conn))


def missed(conn: HTTPConnection) -> None:
    throttle(conn).missed(address(conn))


def _seconds(wait: float) -> str:
    return str(max(1, math.ceil(wait)))


def too_many(wait: float) -> JSONResponse:
    """The 429 of a page, in the contract's error shape."""
    response = error_response(429, "TooManyRequestsError", MESSAGE)
    response.headers["Retry-After"] = _seconds(wait)
    return response


def check(request: Request) -> None:
    """REST: 429 (rendered by api/errors.py) when the caller's address has no budget left."""
    wait = retry_after(request)
    if wait > 0:
        raise HTTPException(429, MESSAGE, headers={"Retry-After": _seconds(wait)})


@contextmanager
def lookup(request: Request) -> Iterator[None]:
    """A REST lookup by id: refused (429) when the address has no budget left; a NotFound inside is a miss."""
    check(request)
    try:
        yield
    except NotFound:
        missed(request)
        raise

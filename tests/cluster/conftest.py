"""The several-machines tier (issue 12): real redis-server processes of the tests' own, PostgreSQL,
and real meetkit nodes sharing them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..redis_server import RedisServer, start_redis


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    srv = start_redis(tmp_path_factory.mktemp("redis"))
    yield srv
    srv.stop()

"""The fair-share gate between applications (api/fairness.py): units of work in progress per tenant,
first come first served, 429 past the queue, and a caller that goes away gives its turn back."""

from __future__ import annotations

import asyncio

import pytest
from starlette.exceptions import HTTPException

from meetkit.api.fairness import TenantGate


async def _hold(gate: TenantGate, tenant: str, cost: int, entered: list[str], name: str,
                release: asyncio.Event) -> None:
    async with gate.slot(tenant, cost):
        entered.append(name)
        await release.wait()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_tenants_work_in_progress_is_bounded_and_others_are_not_held() -> None:
    gate = TenantGate(capacity=8, max_waiting=10)
    entered: list[str] = []
    release = asyncio.Event()
    tasks = [asyncio.create_task(_hold(gate, "busy", 8, entered, f"big{i}", release)) for i in range(3)]
    await _settle()
    assert entered == ["big0"] and gate.in_progress("busy") == 8
    async with gate.slot("calm"):  # another tenant walks straight in
        assert gate.in_progress("calm") == 1
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 2)
    assert entered == ["big0", "big1", "big2"]
    assert gate.in_progress("busy") == 0


async def test_first_come_first_served_nobody_overtakes_a_big_request() -> None:
    gate = TenantGate(capacity=8, max_waiting=10)
    entered: list[str] = []
    first, rest = asyncio.Event(), asyncio.Event()
    a = asyncio.create_task(_hold(gate, "t", 4, entered, "small", first))
    b = asyncio.create_task(_hold(gate, "t", 8, entered, "big", rest))
    c = asyncio.create_task(_hold(gate, "t", 1, entered, "tiny", rest))
    await _settle()
    assert entered == ["small"]  # tiny would fit, but big came first
    first.set()
    await _settle()
    assert entered == ["small", "big"]
    rest.set()
    await asyncio.wait_for(asyncio.gather(a, b, c), 2)
    assert entered == ["small", "big", "tiny"]


async def test_past_the_queue_429_with_retry_after() -> None:
    gate = TenantGate(capacity=1, max_waiting=1)
    release = asyncio.Event()
    entered: list[str] = []
    held = [asyncio.create_task(_hold(gate, "t", 1, entered, str(i), release)) for i in range(2)]
    await _settle()
    with pytest.raises(HTTPException) as refused:
        async with gate.slot("t"):
            pass
    assert refused.value.status_code == 429 and refused.value.headers == {"Retry-After": "1"}
    release.set()
    await asyncio.wait_for(asyncio.gather(*held), 2)


async def test_a_caller_that_goes_away_gives_its_turn_back() -> None:
    gate = TenantGate(capacity=2, max_waiting=10)
    release = asyncio.Event()
    entered: list[str] = []
    holder = asyncio.create_task(_hold(gate, "t", 2, entered, "holder", release))
    await _settle()
    leaver = asyncio.create_task(_hold(gate, "t", 2, entered, "leaver", release))
    after = asyncio.create_task(_hold(gate, "t", 1, entered, "after", release))
    await _settle()
    leaver.cancel()
    release.set()
    await asyncio.wait_for(asyncio.gather(holder, after), 2)
    assert entered == ["holder", "after"]
    assert gate.in_progress("t") == 0
    with pytest.raises(ValueError):
        TenantGate(capacity=0, max_waiting=1)

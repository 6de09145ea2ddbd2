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


async def test_a_waiter_cancelled_just_before_its_turn_leaks_nothing() -> None:
    """Task.cancel() cancels the waiter's future at once but the task wakes later: a release in between
    (here by the holder, in the same step) must skip it, not grant it and count its cost forever."""
    gate = TenantGate(capacity=1, max_waiting=10)
    entered: list[str] = []
    never = asyncio.Event()
    waiter: asyncio.Task[None] | None = None

    async def holder() -> None:
        async with gate.slot("t"):
            await _settle()  # the waiter queues behind
            assert waiter is not None
            waiter.cancel()  # ... and the slot is released before the waiter has woken

    holding = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(_hold(gate, "t", 1, entered, "waiter", never))
    await asyncio.wait_for(asyncio.gather(holding, waiter, return_exceptions=True), 2)
    assert entered == [] and gate.in_progress("t") == 0
    async with gate.slot("t"):  # the share is whole again
        assert gate.in_progress("t") == 1

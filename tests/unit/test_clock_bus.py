"""The injected clock's timers and the in-process bus (pure: no server)."""

from __future__ import annotations

import asyncio

from meetkit.bus import InProcessBus, RoomEnded, RoomEvent, RoomUpdated
from meetkit.clock import FakeClock


async def test_fake_clock_runs_timers_and_wakes_sleepers_in_due_order() -> None:
    clock = FakeClock()
    fired: list[str] = []
    clock.call_later(5, lambda: fired.append("five"))
    clock.call_later(1, lambda: fired.append("one"))
    cancelled = clock.call_later(2, lambda: fired.append("cancelled"))
    cancelled.cancel()
    sleeper = asyncio.create_task(clock.sleep(3))
    await asyncio.sleep(0)
    clock.advance(2.5)
    await asyncio.sleep(0)
    assert fired == ["one"] and not sleeper.done()
    clock.advance(3)
    await asyncio.sleep(0)
    assert fired == ["one", "five"] and sleeper.done()
    assert clock.pending() == 0


async def test_a_cancelled_sleep_leaves_no_timer() -> None:
    clock = FakeClock()
    sleeper = asyncio.create_task(clock.sleep(10))
    await asyncio.sleep(0)
    sleeper.cancel()
    await asyncio.gather(sleeper, return_exceptions=True)
    assert clock.pending() == 0


async def test_bus_delivers_to_every_subscriber_even_when_one_fails() -> None:
    bus = InProcessBus()
    heard: list[RoomEvent] = []

    async def failing(_: RoomEvent) -> None:
        raise RuntimeError("boom")

    async def listening(event: RoomEvent) -> None:
        heard.append(event)

    bus.subscribe(failing)
    unsubscribe = bus.subscribe(listening)
    await bus.publish(RoomEnded(room_id="r1", reason="deleted"))
    bus.publish_soon(RoomUpdated(room_id="r1"))
    await bus.drain()
    assert heard == [RoomEnded(room_id="r1", reason="deleted"), RoomUpdated(room_id="r1")]
    unsubscribe()
    await bus.publish(RoomUpdated(room_id="r2"))
    assert len(heard) == 2

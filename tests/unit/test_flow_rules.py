"""The meeting socket's flow-control rules in-process (signalling/flow.py, coalesce.py, domain/lobby.py):
message classes, per-class buckets and strikes, the per-address socket count, the throttle that
coalesces broadcasts (on a FakeClock), and the lobby cap."""

from __future__ import annotations

from meetkit.clock import FakeClock
from meetkit.config import Settings
from meetkit.domain import lobby as rules
from meetkit.signalling.coalesce import Throttle
from meetkit.signalling.flow import AddressSockets, FlowLimits, SocketFlow, class_of


def test_every_client_message_type_has_its_class() -> None:
    assert class_of("chat.send") == "chat"
    assert {class_of(x) for x in ("hand", "media.state", "talking")} == {"state"}
    assert {class_of(x) for x in ("media.publish", "media.unpublish", "media.view", "media.answer",
                                  "media.ice_restart")} == {"media"}
    assert {class_of(x) for x in ("host.admit", "host.mute_all", "host.end", "host.record")} == {"host"}
    assert class_of("ping") == "ping"
    assert class_of(None) == class_of("hello") == class_of("dance") == "other"
    assert class_of("leave") is None


def test_a_class_over_its_burst_is_limited_then_strikes_close_the_socket() -> None:
    now = [0.0]
    limits = FlowLimits.of(Settings(socket_ping_rate=1, socket_ping_burst=3, socket_abuse_strikes=5,
                                    socket_abuse_window=10, _env_file=None))  # type: ignore[call-arg]
    flow = SocketFlow(limits, now=lambda: now[0])
    assert [flow.check("ping") for _ in range(3)] == ["ok"] * 3
    assert flow.check("ping") == "limited"
    error = flow.refusal("ping")
    assert (error.code, error.limit, error.retry_after_ms) == ("rate_limited", "ping", 1000)
    assert flow.check("chat") == "ok"  # another class, another bucket
    now[0] = 1.0
    assert flow.check("ping") == "ok"  # refilled at its rate
    assert [flow.check("ping") for _ in range(4)] == ["limited"] * 4  # 5 strikes in all
    assert flow.check("ping") == "abusive"
    assert flow.limited == 6


def test_strikes_are_forgiven_over_their_window() -> None:
    now = [0.0]
    limits = FlowLimits.of(Settings(socket_ping_rate=1, socket_ping_burst=1, socket_abuse_strikes=2,
                                    socket_abuse_window=10, _env_file=None))  # type: ignore[call-arg]
    flow = SocketFlow(limits, now=lambda: now[0])
    assert [flow.check("ping") for _ in range(3)] == ["ok", "limited", "limited"]
    now[0] = 10.0  # the window is over: strikes are back, and so is a token
    assert [flow.check("ping") for _ in range(4)] == ["ok", "limited", "limited", "abusive"]


def test_sockets_per_address_are_counted_and_released() -> None:
    sockets = AddressSockets(cap=2)
    assert sockets.claim("127.0.0.7") and sockets.claim("127.0.0.7")
    assert not sockets.claim("127.0.0.7")
    assert sockets.claim("127.0.0.8")
    sockets.release("127.0.0.7")
    assert sockets.held("127.0.0.7") == 1 and sockets.claim("127.0.0.7")
    for _ in range(3):
        sockets.release("127.0.0.7")
    assert sockets.held("127.0.0.7") == 0 and "127.0.0.7" not in sockets._open  # nothing kept for it


def test_the_throttle_sends_the_first_change_at_once_then_one_flush_per_interval() -> None:
    clock = FakeClock()
    flushes: list[int] = []
    pending = [0]

    def flush() -> bool:
        if not pending[0]:
            return False
        flushes.append(pending[0])
        pending[0] = 0
        return True

    throttle = Throttle(clock, 0.2, flush)

    def change() -> None:
        pending[0] += 1
        throttle.poke()

    change()
    assert flushes == [1]  # leading edge
    for _ in range(100):
        change()
    assert flushes == [1]
    clock.advance(0.2)
    assert flushes == [1, 100]  # everything meanwhile, in one flush
    clock.advance(0.2)
    assert flushes == [1, 100] and clock.pending() == 0  # quiet: no timer left behind
    change()
    assert flushes == [1, 100, 1]
    throttle.cancel()
    assert clock.pending() == 0


def test_a_flush_that_sends_nothing_starts_no_interval() -> None:
    clock = FakeClock()
    throttle = Throttle(clock, 1.0, lambda: False)
    throttle.poke()
    assert clock.pending() == 0


def test_the_lobby_holds_no_more_than_the_free_places_by_default() -> None:
    assert not rules.lobby_is_full(waiting=1, joined=1, max_participants=3, max_lobby=None)
    assert rules.lobby_is_full(waiting=2, joined=1, max_participants=3, max_lobby=None)
    assert rules.lobby_is_full(waiting=0, joined=3, max_participants=3, max_lobby=None)
    assert not rules.lobby_is_full(waiting=9, joined=3, max_participants=3, max_lobby=10)
    assert rules.lobby_is_full(waiting=10, joined=0, max_participants=250, max_lobby=10)
    assert rules.lobby_is_full(waiting=0, joined=0, max_participants=250, max_lobby=0)

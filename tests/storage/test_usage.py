"""Usage: participant and recording minutes metered from the durable rows, rolled up per application and
UTC month, priced with the configured tiers; read through GET /v1/meetings/usage and `meetkit usage`,
on SQLite and PostgreSQL. Meetings are held through the real actions (do_join, do_leave) on a fake
clock, so an hour passes without waiting; recordings are inserted as the recording pipeline leaves them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

import meetkit.actions.usage as usage_actions
from meetkit.actions.meetings import do_join, do_leave
from meetkit.actions.rooms import do_create_room
from meetkit.actions.usage import do_meter_pending
from meetkit.api.schemas import CreateRoomIn
from meetkit.app import build_container
from meetkit.client import MeetingsClient
from meetkit.clock import FakeClock
from meetkit.config import Settings
from meetkit.container import Container
from meetkit.storage import tables as t
from meetkit.worker.usage import UsageWorker

from ..support import Server, assert_error, create_application, run, start_server, stop_server

ENV = {"MEETKIT_MEDIA_MODE": "off", "MEETKIT_USAGE_POLL_INTERVAL": "3600"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A database of this module's own: the worker tests meter "everything pending"."""
    srv = start_server(request.param, tmp_path_factory.mktemp(f"usage-{request.param}"), extra_env=ENV)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def volume_server(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second server on the same database, pricing in volume mode."""
    srv = start_server(server.backend, tmp_path_factory.mktemp(f"usage-volume-{server.backend}"),
                       extra_env={**ENV, "MEETKIT_PRICING_MODE": "volume"}, database_url=server.database_url)
    yield srv
    srv.process.terminate()  # not stop_server: the database is the first server's to drop
    srv.process.wait(timeout=10)


def fake_container(server: Server, clock: FakeClock, **settings: Any) -> Container:
    return build_container(Settings(data_dir=server.data_dir, database_url=server.database_url, media_mode="off",
                                    **settings), clock=clock)


async def _room(c: Container, application_id: str) -> str:
    expires = c.clock.now() + timedelta(days=300)
    body = CreateRoomIn.model_validate({"display_name": "usage", "type": "long_term",
                                        "expires_at": expires.isoformat()})
    return (await do_create_room(c, application_id, body)).id


async def _meeting(c: Container, clock: FakeClock, room_id: str, people: int, seconds: float) -> str:
    """``people`` join at once and all leave ``seconds`` later (the last leave ends the session)."""
    ids = [str(uuid.uuid4()) for _ in range(people)]
    session_id = ""
    for number, participant_id in enumerate(ids):
        session_id = (await do_join(c, room_id, participant_id, f"person {number}", number == 0)).session_id
    clock.advance(seconds)
    for participant_id in ids:
        await do_leave(c, participant_id, "left")
    return session_id


async def _recording(c: Container, application_id: str, session_id: str, room_id: str, started: datetime,
                     ended: datetime | None, status: str = "uploaded") -> str:
    async with c.sessions.begin() as db:
        rec = t.Recording(id=str(uuid.uuid4()), application_id=application_id, session_id=session_id,
                          room_id=room_id, status=status, started_at=started, ended_at=ended, storage_key=None,
                          created_at=started)
        db.add(rec)
    return rec.id


def _usage(client: MeetingsClient, month: str | None) -> dict[str, Any]:
    resp = client.request("GET", "/usage", params={"month": month} if month else None)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _cli(server: Server, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "meetkit.cli", *args], env={**server.env, **(env or {})},
                          capture_output=True, text=True, timeout=60)


def _tiers(kind: dict[str, Any]) -> list[tuple[int, int | None, str, str, str]]:
    return [(x["above"], x["up_to"], x["minutes"], x["unit_price"], x["amount"]) for x in kind["tiers"]]


# --- the worked examples ---------------------------------------------------------------------------


def test_one_hour_four_people_recorded_is_2_64(server: Server, client: MeetingsClient) -> None:
    clock = FakeClock(datetime(2031, 5, 12, 9, 0, tzinfo=UTC))

    async def go() -> None:
        c = fake_container(server, clock)
        try:
            room_id = await _room(c, client.application_id)
            session_id = await _meeting(c, clock, room_id, people=4, seconds=3600)
            await _recording(c, client.application_id, session_id, room_id, clock.now() - timedelta(hours=1),
                             clock.now())
        finally:
            await c.engine.dispose()

    run(go())
    body = _usage(client, "2031-05")
    assert body["application_id"] == client.application_id
    assert (body["month"], body["period_start"], body["period_end"]) == (
        "2031-05", "2031-05-01T00:00:00.000Z", "2031-06-01T00:00:00.000Z")
    assert (body["currency"], body["tier_mode"], body["rounding"]) == ("USD", "graduated", "ceil")
    assert body["sessions"] == 1
    people, recorded = body["participants"], body["recordings"]
    assert (people["count"], people["minutes"], people["amount"]) == (4, "240", "1.14")
    assert _tiers(people) == [(0, 100000, "240", "0.00475", "1.14"), (100000, 500000, "0", "0.0045", "0.00"),
                              (500000, None, "0", "0.004", "0.00")]
    assert (recorded["count"], recorded["minutes"], recorded["amount"]) == (1, "60", "1.50")
    assert _tiers(recorded) == [(0, 50000, "60", "0.025", "1.50"), (50000, 300000, "0", "0.02", "0.00"),
                                (300000, None, "0", "0.015", "0.00")]
    assert body["total"] == "2.64"
    assert body["updated_at"] is not None
    assert _usage(client, "2031-05") == body  # reading meters nothing twice

    # The CLI prints the same figures, and in JSON exactly what the API answers.
    out = _cli(server, "usage", "--month", "2031-05", "--application", client.application_id)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "2031-05" in lines[0] and client.application_id in lines[0] and "graduated" in lines[0]
    assert lines[1] == "1 session"
    assert [ln.split() for ln in lines if ln.strip().startswith(("1-", "total"))] == [
        ["1-100,000", "240", "0.00475", "1.14"], ["total", "240", "1.14"],
        ["1-50,000", "60", "0.025", "1.50"], ["total", "60", "1.50"]]
    assert lines[-1].split() == ["Total", "2.64", "USD"]
    out = _cli(server, "usage", "--month", "2031-05", "--application", client.application_id, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [body]
    # Every application with usage that month: this one is among them.
    out = _cli(server, "usage", "--month", "2031-05", "--json")
    assert body in json.loads(out.stdout)


def test_cli_prices_with_configured_tiers_and_mode(server: Server, client: MeetingsClient) -> None:
    clock = FakeClock(datetime(2031, 5, 20, 9, 0, tzinfo=UTC))

    async def go() -> None:
        c = fake_container(server, clock)
        try:
            await _meeting(c, clock, await _room(c, client.application_id), people=4, seconds=3600)
        finally:
            await c.engine.dispose()

    run(go())
    tiers = {"MEETKIT_PRICING_PARTICIPANT_TIERS": '[{"up_to": 200, "price": "0.01"}, {"up_to": null, "price": 0.005}]',
             "MEETKIT_PRICING_CURRENCY": "EUR"}
    args = ("usage", "--month", "2031-05", "--application", client.application_id, "--json")
    graduated = json.loads(_cli(server, *args, env=tiers).stdout)[0]
    assert graduated["currency"] == "EUR"
    assert _tiers(graduated["participants"]) == [(0, 200, "200", "0.01", "2.00"), (200, None, "40", "0.005", "0.20")]
    assert graduated["total"] == "2.20"
    volume = json.loads(_cli(server, *args, env={**tiers, "MEETKIT_PRICING_MODE": "volume"}).stdout)[0]
    assert _tiers(volume["participants"]) == [(0, 200, "0", "0.01", "0.00"), (200, None, "240", "0.005", "1.20")]
    assert volume["total"] == "1.20"


def test_invalid_tiers_stop_the_cli_and_the_server(server: Server, tmp_path: Path) -> None:
    bad = {"MEETKIT_PRICING_RECORDING_TIERS":
           '[{"up_to": 100, "price": "0.01"}, {"up_to": 50, "price": "0.02"}, {"up_to": null, "price": "0.01"}]'}
    out = _cli(server, "usage", env=bad)
    assert out.returncode == 2
    assert "configuration error" in out.stderr and "tier 1: up_to must be greater than 100, got 50" in out.stderr
    out = _cli(server, "serve", "--port", "1", env=bad)
    assert out.returncode == 2 and "tier 1" in out.stderr
    out = _cli(server, "usage", env={"MEETKIT_PRICING_MODE": "tiered"})
    assert out.returncode == 2 and "pricing_mode" in out.stderr
    out = _cli(server, "usage", "--month", "2031-13")
    assert out.returncode == 2 and "month must be YYYY-MM" in out.stderr


# --- tiers: graduated and volume -------------------------------------------------------------------


def test_a_month_across_tier_boundaries_graduated_and_volume(server: Server, volume_server: Server,
                                                              application: tuple[str, str]) -> None:
    app_id, key = application
    clock = FakeClock(datetime(2031, 8, 1, 8, 0, tzinfo=UTC))

    async def go() -> None:
        c = fake_container(server, clock)
        try:
            room_id = await _room(c, app_id)
            # 5 people for 14 days: 100,800 minutes. A recording of 36 days: 51,840 minutes, ended in August.
            session_id = await _meeting(c, clock, room_id, people=5, seconds=14 * 24 * 3600)
            await _recording(c, app_id, session_id, room_id, datetime(2031, 7, 5, tzinfo=UTC),
                             datetime(2031, 8, 10, tzinfo=UTC))
        finally:
            await c.engine.dispose()

    run(go())
    with MeetingsClient(server.base_url, app_id, key, verify=str(server.cert_path)) as client:
        graduated = _usage(client, "2031-08")
    with MeetingsClient(volume_server.base_url, app_id, key, verify=str(volume_server.cert_path)) as client:
        volume = _usage(client, "2031-08")
    assert graduated["participants"]["minutes"] == volume["participants"]["minutes"] == "100800"
    assert graduated["recordings"]["minutes"] == volume["recordings"]["minutes"] == "51840"
    # Graduated: 100,000 x 0.00475 + 800 x 0.0045; 50,000 x 0.025 + 1,840 x 0.02.
    assert graduated["tier_mode"] == "graduated"
    assert _tiers(graduated["participants"]) == [
        (0, 100000, "100000", "0.00475", "475.00"), (100000, 500000, "800", "0.0045", "3.60"),
        (500000, None, "0", "0.004", "0.00")]
    assert _tiers(graduated["recordings"]) == [
        (0, 50000, "50000", "0.025", "1250.00"), (50000, 300000, "1840", "0.02", "36.80"),
        (300000, None, "0", "0.015", "0.00")]
    assert (graduated["participants"]["amount"], graduated["recordings"]["amount"], graduated["total"]) == (
        "478.60", "1286.80", "1765.40")
    # Volume: every minute at the tier the month's total reaches.
    assert volume["tier_mode"] == "volume"
    assert _tiers(volume["participants"]) == [
        (0, 100000, "0", "0.00475", "0.00"), (100000, 500000, "100800", "0.0045", "453.60"),
        (500000, None, "0", "0.004", "0.00")]
    assert _tiers(volume["recordings"]) == [
        (0, 50000, "0", "0.025", "0.00"), (50000, 300000, "51840", "0.02", "1036.80"),
        (300000, None, "0", "0.015", "0.00")]
    assert (volume["participants"]["amount"], volume["recordings"]["amount"], volume["total"]) == (
        "453.60", "1036.80", "1490.40")


# --- attribution, rounding, scoping, input -----------------------------------------------------------


def test_usage_belongs_to_the_utc_month_it_ended_in(server: Server, client: MeetingsClient) -> None:
    clock = FakeClock(datetime(2031, 6, 30, 23, 30, tzinfo=UTC))

    async def go() -> None:
        c = fake_container(server, clock)
        try:
            room_id = await _room(c, client.application_id)
            # 23:30 to 00:30 across the month's end: all 2 x 60 minutes are July's.
            session_id = await _meeting(c, clock, room_id, people=2, seconds=3600)
            end_of_june = datetime(2031, 7, 1, tzinfo=UTC) - timedelta(microseconds=1)
            await _recording(c, client.application_id, session_id, room_id, end_of_june - timedelta(minutes=10),
                             end_of_june)  # 10 minutes, June's by a microsecond
            await _recording(c, client.application_id, session_id, room_id, datetime(2031, 6, 30, 23, 50, tzinfo=UTC),
                             datetime(2031, 7, 1, 0, 10, tzinfo=UTC))  # 20 minutes, July's
            # Not billed (yet): still recording, or no end.
            await _recording(c, client.application_id, session_id, room_id, clock.now(), None, status="started")
        finally:
            await c.engine.dispose()

    run(go())
    june, july = _usage(client, "2031-06"), _usage(client, "2031-07")
    assert (june["sessions"], june["participants"]["minutes"], june["recordings"]["count"],
            june["recordings"]["minutes"]) == (0, "0", 1, "10")
    assert (july["sessions"], july["participants"]["minutes"], july["recordings"]["count"],
            july["recordings"]["minutes"]) == (1, "120", 1, "20")
    assert july["period_start"] == "2031-07-01T00:00:00.000Z"


def test_each_participant_rounds_up_to_a_whole_minute(server: Server, client: MeetingsClient) -> None:
    clock = FakeClock(datetime(2031, 9, 3, 12, 0, tzinfo=UTC))

    async def go() -> None:
        c = fake_container(server, clock)
        try:
            room_id = await _room(c, client.application_id)
            await _meeting(c, clock, room_id, people=3, seconds=61)  # 1 min 1 s each: 2 minutes each
            # A rejoin is another participant (a new id per join): rounded on its own.
            await _meeting(c, clock, room_id, people=1, seconds=1)
        finally:
            await c.engine.dispose()

    run(go())
    body = _usage(client, "2031-09")
    assert (body["sessions"], body["participants"]["count"], body["participants"]["minutes"]) == (2, 4, "7")


def test_another_applications_usage_is_not_visible(server: Server, client: MeetingsClient, tmp_path: Path) -> None:
    clock = FakeClock(datetime(2031, 10, 7, 15, 0, tzinfo=UTC))
    other_id, other_key = create_application(server, tmp_path, "other")

    async def go() -> None:
        c = fake_container(server, clock)
        try:
            await _meeting(c, clock, await _room(c, other_id), people=4, seconds=3600)
        finally:
            await c.engine.dispose()

    run(go())
    mine = _usage(client, "2031-10")
    assert (mine["sessions"], mine["participants"]["minutes"], mine["total"], mine["updated_at"]) == (0, "0", "0.00",
                                                                                                     None)
    with MeetingsClient(server.base_url, other_id, other_key, verify=str(server.cert_path)) as other:
        assert _usage(other, "2031-10")["participants"]["minutes"] == "240"


def test_month_defaults_to_this_one_and_bad_months_are_400(server: Server, client: MeetingsClient) -> None:
    before = datetime.now(UTC).strftime("%Y-%m")
    body = _usage(client, None)
    assert body["month"] in {before, datetime.now(UTC).strftime("%Y-%m")}
    for bad in ("2031-13", "2031-00", "0000-01"):
        err = assert_error(client.request("GET", "/usage", params={"month": bad}), 400, "InputValidationError")
        assert err["message"] == f"month must be YYYY-MM, got '{bad}'"
    arabic_indic = "\u0662\u0660\u0663\u0661-\u0660\u0665"  # 2031-05 in other digits
    for bad in ("2031-5", "", "May 2031", "2031-05-01", arabic_indic):
        assert_error(client.request("GET", "/usage", params={"month": bad}), 400, "InputValidationError")
    resp = client.request("GET", "/usage", params={"month": "2031-05"})
    assert resp.status_code == 200
    assert httpx.get(f"{server.base_url}/v1/meetings/usage", verify=server.ssl).status_code == 401


# --- the worker: stored once, whatever happens --------------------------------------------------------


async def _totals(c: Container, application_id: str) -> tuple[Any, ...]:
    async with c.sessions() as db:
        rows = (await db.scalars(select(t.UsageMonthly).where(t.UsageMonthly.application_id == application_id)
                                 .order_by(t.UsageMonthly.month))).all()
        items = await db.scalar(select(func.count()).select_from(t.UsageItem)
                                .where(t.UsageItem.application_id == application_id))
        minutes = await db.scalar(select(func.sum(t.UsageItem.minutes))
                                  .where(t.UsageItem.application_id == application_id))
    return (items, minutes, [(r.month, r.sessions, r.participants, r.participant_minutes, r.recordings,
                              r.recording_minutes) for r in rows])


def test_worker_meters_once_and_survives_a_failed_pass(server: Server, application: tuple[str, str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    app_id, _key = application
    clock = FakeClock(datetime(2031, 11, 2, 10, 0, tzinfo=UTC))

    async def go() -> None:
        c = fake_container(server, clock)
        try:
            room_id = await _room(c, app_id)
            session_id = await _meeting(c, clock, room_id, people=4, seconds=3600)
            await _recording(c, app_id, session_id, room_id, clock.now() - timedelta(minutes=30), clock.now(),
                             status="stopped")

            # A pass that dies after claiming (a crash, a lost connection) leaves nothing half done.
            real_store = usage_actions._store

            async def broken(*args: Any, **kwargs: Any) -> int:
                raise ConnectionError("the database went away")

            monkeypatch.setattr(usage_actions, "_store", broken)
            with pytest.raises(ConnectionError):
                await UsageWorker(c).tick()
            assert await _totals(c, app_id) == (0, None, [])
            async with c.sessions() as db:
                session = await db.get(t.Session, session_id)
                assert session is not None and session.usage_metered_at is None
            monkeypatch.setattr(usage_actions, "_store", real_store)
        finally:
            await c.engine.dispose()

        # A restarted process (a new container) meters what is still pending, once.
        c = fake_container(server, clock)
        try:
            await UsageWorker(c).tick()
            expected = (5, Decimal(270), [("2031-11", 1, 4, Decimal(240), 1, Decimal(30))])
            assert await _totals(c, app_id) == expected
            assert not await UsageWorker(c).tick()  # nothing left
            assert await _totals(c, app_id) == expected
            # Even a session whose marker was lost adds nothing: its items are unique.
            async with c.sessions.begin() as db:
                session = await db.get(t.Session, session_id)
                assert session is not None
                session.usage_metered_at = None
            assert (await UsageWorker(c).tick()).sessions >= 1
            assert await _totals(c, app_id) == expected
        finally:
            await c.engine.dispose()

    run(go())


def test_concurrent_workers_meter_each_session_once(server: Server, application: tuple[str, str]) -> None:
    app_id, _key = application
    clock = FakeClock(datetime(2031, 12, 1, 10, 0, tzinfo=UTC))

    async def go() -> None:
        c1, c2 = fake_container(server, clock), fake_container(server, clock)
        try:
            room_id = await _room(c1, app_id)
            for _ in range(12):
                await _meeting(c1, clock, room_id, people=2, seconds=90)  # 2 x 2 minutes each
            done = await asyncio.gather(do_meter_pending(c1, application_id=app_id, limit=2),
                                        do_meter_pending(c2, application_id=app_id, limit=2))
            assert sum(d.sessions for d in done) == 12
            assert await _totals(c1, app_id) == (24, Decimal(48), [("2031-12", 12, 24, Decimal(48), 0, Decimal(0))])
        finally:
            await c1.engine.dispose()
            await c2.engine.dispose()

    run(go())


def test_exact_rounding_keeps_fractions(server: Server, application: tuple[str, str]) -> None:
    app_id, key = application
    clock = FakeClock(datetime(2032, 1, 15, 10, 0, tzinfo=UTC))

    async def go() -> None:
        c = fake_container(server, clock, pricing_rounding="exact")
        try:
            room_id = await _room(c, app_id)
            await _meeting(c, clock, room_id, people=1, seconds=90)  # 1.5 minutes
            await do_meter_pending(c)
            assert (await _totals(c, app_id))[1] == Decimal("1.5")
        finally:
            await c.engine.dispose()

    run(go())
    with MeetingsClient(server.base_url, app_id, key, verify=str(server.cert_path)) as client:
        assert _usage(client, "2032-01")["participants"]["minutes"] == "1.5"

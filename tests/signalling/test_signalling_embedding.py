"""The meeting socket's door checks over real WebSockets (issue 10 findings 8 and 10): the Origin of a
browser's socket, the per-address budget for unknown meeting codes, and a host token rotated while
the meeting runs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import websockets

from meetkit.client import MeetingsClient
from meetkit.signalling import protocol

from ..conftest import BACKENDS
from ..signalling_client import Peer
from ..support import Server, create_application, start_server, stop_server

ENV = {"MEETKIT_MEDIA_MODE": "off", "MEETKIT_UNKNOWN_CODE_BURST": "5", "MEETKIT_UNKNOWN_CODE_RATE": "0.01"}


@pytest.fixture(scope="module", params=BACKENDS)
def door_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(request.param, tmp_path_factory.mktemp(f"door-{request.param}"), ENV, tls=False)
    yield srv
    stop_server(srv)


@pytest.fixture
def api(door_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeetingsClient]:
    """A fresh application per test: each sets its own embedding origins."""
    app_id, key = create_application(door_server, tmp_path_factory.mktemp("door-keys"))
    with MeetingsClient(door_server.base_url, app_id, key) as c:
        yield c


def room_of(api: MeetingsClient) -> tuple[str, str, str]:
    """(room id, meeting code, host token)."""
    room = api.create_room({"display_name": "Door"})
    token = parse_qs(urlparse(room["_links"]["host_url"]["href"]).query)["participant_token"][0]
    return room["id"], room["meeting_code"], token


async def socket(server: Server, code: str, *, origin: str | None = None, address: str = "127.0.0.1",
                 name: str = "Ann", host_token: str | None = None) -> Peer:
    """A participant's socket, with a browser's Origin header when given, from ``address``."""
    url = server.base_url.replace("http", "ws", 1) + f"/_meetkit/ws/{code}"
    kwargs: dict[str, Any] = {"local_addr": (address, 0)}
    if origin is not None:
        kwargs["origin"] = origin
    peer = Peer(await asyncio.wait_for(websockets.connect(url, **kwargs), 10))
    hello: dict[str, Any] = {"type": "hello", "v": 1, "name": name, "mic": False, "camera": False}
    if host_token is not None:
        hello["host_token"] = host_token
    try:
        await peer.send(hello)
    except websockets.ConnectionClosed:
        pass  # refused at once: the close code tells why
    return peer


async def test_socket_origin_is_the_public_url_or_an_allowed_embedder(door_server: Server,
                                                                      api: MeetingsClient) -> None:
    _room_id, code, _token = room_of(api)
    own = await socket(door_server, code, origin=door_server.base_url)
    await own.expect("admitted")
    program = await socket(door_server, code, name="Bot")  # no Origin header: not a browser, allowed
    await program.expect("admitted")
    foreign = await socket(door_server, code, origin="http://evil.example", name="Eve")
    assert await foreign.closed() == protocol.CLOSE_ORIGIN
    assert not foreign.frames
    assert await socket_closed(door_server, code, "null") == protocol.CLOSE_ORIGIN  # a sandboxed frame

    # An allowed embedding origin may open the socket too (a customer's own UI); others still may not.
    assert api.request("PUT", "/applications/embed-origins", json={
        "embed_origins": ["http://127.0.0.1:8000", "https://*.shop.example"]}).status_code == 200
    embedder = await socket(door_server, code, origin="http://127.0.0.1:8000", name="Emb")
    await embedder.expect("admitted")
    sub = await socket(door_server, code, origin="https://eu.shop.example", name="Sub")
    await sub.expect("admitted")
    assert await socket_closed(door_server, code, "http://127.0.0.1:8001") == protocol.CLOSE_ORIGIN
    assert await socket_closed(door_server, code, "https://shop.example") == protocol.CLOSE_ORIGIN
    assert await socket_closed(door_server, code, "http://eu.shop.example") == protocol.CLOSE_ORIGIN
    for peer in (own, program, embedder, sub):
        await peer.close()


async def socket_closed(server: Server, code: str, origin: str) -> int | None:
    peer = await socket(server, code, origin=origin)
    return await peer.closed()


async def test_unknown_codes_are_throttled_per_address_on_sockets(door_server: Server, api: MeetingsClient) -> None:
    _room_id, code, _token = room_of(api)
    for i in range(5):
        miss = await socket(door_server, str(100000000 + i), address="127.0.0.21")
        assert await miss.closed() == protocol.CLOSE_NOT_FOUND
    refused = await socket(door_server, "100000009", address="127.0.0.21")
    assert await refused.closed() == protocol.CLOSE_PROBES
    # Past the budget the address cannot open a real meeting either (a hit looks like a miss) ...
    hit = await socket(door_server, code, address="127.0.0.21")
    assert await hit.closed() == protocol.CLOSE_PROBES
    assert not hit.frames
    # ... while another address joins as usual.
    other = await socket(door_server, code, address="127.0.0.22")
    await other.expect("admitted")
    await other.close()


async def test_rotated_host_token_stops_working_in_the_running_meeting(door_server: Server,
                                                                       api: MeetingsClient) -> None:
    room_id, code, old = room_of(api)
    host = await socket(door_server, code, name="Hana", host_token=old)
    welcome = await host.expect("welcome")
    assert welcome["role"] == "host"
    await host.expect("admitted")

    rotated = api.request("POST", f"/rooms/{room_id}/host-token:rotate")
    assert rotated.status_code == 200
    new = parse_qs(urlparse(rotated.json()["_links"]["host_url"]["href"]).query)["participant_token"][0]

    # The rotation answers once the running meeting has the new token: the old one fails at once.
    late = await socket(door_server, code, name="Old link", host_token=old)
    assert (await late.expect("welcome"))["role"] == "guest"
    await late.close()
    fresh = await socket(door_server, code, name="New link", host_token=new)
    assert (await fresh.expect("welcome"))["role"] == "host"
    await fresh.close()
    await host.close()

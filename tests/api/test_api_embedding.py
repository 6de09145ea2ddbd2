"""Headers and embedding over real HTTP (issue 10 findings 4 and 8): nosniff on every answer, the
meeting page's CSP and its frame-ancestors from the application's allowed embedding origins (REST
and CLI), host-token rotation, and the per-address budget for lookups of unknown meetings."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from meetkit.client import MeetingsClient

from ..support import Server, assert_error, create_application, start_server, stop_server

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)


def csp_of(resp: httpx.Response) -> dict[str, str]:
    policy = resp.headers["content-security-policy"]
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] if " " in d else "" for d in policy.split("; ")}


def page_config(html: str) -> dict[str, object]:
    m = re.search(r'<script id="meetkit-config" type="application/json">(.*?)</script>', html, re.S)
    assert m is not None
    config: dict[str, object] = json.loads(m.group(1))
    return config


def test_nosniff_on_every_response(server: Server, client: MeetingsClient) -> None:
    room = client.create_room({"display_name": "Headers"})
    base = server.base_url
    with httpx.Client(verify=server.ssl) as http:
        answers = [
            http.get(f"{base}/v1/meetings/openapi.json"),
            http.get(f"{base}/v1/meetings/rooms"),  # 401
            client.request("GET", "/rooms/not-a-room"),  # 404 in the contract's shape
            http.get(f"{base}/v1/meetings/rooms%00"),  # the target guard's 400
            http.get(room["_links"]["guest_url"]["href"]),
            http.get(f"{base}/000000000"),  # the HTML 404 page
            http.get(f"{base}/_meetkit/static/meeting.js"),
            http.get(f"{base}/embed.js"),
            http.get(f"{base}/v1/meetings/assets/logos/none.png"),
        ]
    for resp in answers:
        assert resp.headers.get("x-content-type-options") == "nosniff", (resp.request.url, resp.status_code)


def test_meeting_page_csp_allows_only_its_own_scripts(server: Server, client: MeetingsClient) -> None:
    room = client.create_room({"display_name": "CSP"})
    resp = httpx.get(room["_links"]["host_url"]["href"], verify=server.ssl)
    assert resp.status_code == 200
    policy = csp_of(resp)
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'none'"
    assert "unsafe-inline" not in resp.headers["content-security-policy"]
    assert "unsafe-eval" not in resp.headers["content-security-policy"]
    host = urlparse(server.base_url).netloc
    assert f"wss://{host}" in policy["connect-src"].split()
    assert "frame-ancestors" not in policy  # no list set: any site may frame, as before
    assert resp.headers["referrer-policy"] == "no-referrer"
    # No inline script: every <script> has a src, or is the JSON configuration (data, never run).
    for attrs in SCRIPT_TAG.findall(resp.text):
        assert "src=" in attrs or 'type="application/json"' in attrs, attrs
    assert " style=" not in resp.text  # no inline style attribute either (style-src 'self')
    assert page_config(resp.text)["embed_origins"] is None
    error_page = httpx.get(f"{server.base_url}/000000000", verify=server.ssl)
    assert "script-src" not in error_page.headers["content-security-policy"]  # default-src 'none': no script


def test_embed_origins_set_read_and_sent_as_frame_ancestors(server: Server, client: MeetingsClient,
                                                            tmp_path: Path) -> None:
    assert client.request("GET", "/applications/embed-origins").json() == {
        "application_id": client.application_id, "embed_origins": None}
    resp = client.request("PUT", "/applications/embed-origins", json={"embed_origins": [
        "https://Shop.Example.com", "https://shop.example.com:443/", "http://127.0.0.1:8000", "https://*.acme.io"]})
    assert resp.status_code == 200, resp.text
    wanted = ["https://shop.example.com", "http://127.0.0.1:8000", "https://*.acme.io"]
    assert resp.json() == {"application_id": client.application_id, "embed_origins": wanted}
    assert client.request("GET", "/applications/embed-origins").json()["embed_origins"] == wanted

    room = client.create_room({"display_name": "Framed"})
    page = httpx.get(room["_links"]["guest_url"]["href"], verify=server.ssl)
    assert csp_of(page)["frame-ancestors"] == " ".join(wanted)
    assert page_config(page.text)["embed_origins"] == wanted

    # Another application's rooms keep "any site".
    other_id, other_key = create_application(server, tmp_path, "other")
    with MeetingsClient(server.base_url, other_id, other_key, verify=str(server.cert_path)) as other:
        theirs = other.create_room({"display_name": "Theirs"})
        assert "frame-ancestors" not in csp_of(httpx.get(theirs["_links"]["guest_url"]["href"], verify=server.ssl))

    # An empty list: no site may frame; null clears the list.
    assert client.request("PUT", "/applications/embed-origins", json={"embed_origins": []}).json()[
        "embed_origins"] == []
    assert csp_of(httpx.get(room["_links"]["guest_url"]["href"], verify=server.ssl))["frame-ancestors"] == "'none'"
    assert client.request("PUT", "/applications/embed-origins", json={"embed_origins": None}).json()[
        "embed_origins"] is None
    assert "frame-ancestors" not in csp_of(httpx.get(room["_links"]["guest_url"]["href"], verify=server.ssl))


@pytest.mark.parametrize("bad", ["https://example.com/path", "*", "https://*.com", "ftp://example.com",
                                 "https://user@example.com", "example.com", "https://exa mple.com",
                                 "https://example.com:99999", "https://a.*.example.com", "https://example.com?x=1",
                                 "javascript:alert(1)", "https://example.com; script-src *"])
def test_bad_embed_origins_are_refused(client: MeetingsClient, bad: str) -> None:
    resp = client.request("PUT", "/applications/embed-origins", json={"embed_origins": ["https://ok.example", bad]})
    assert_error(resp, 400)
    assert client.request("GET", "/applications/embed-origins").json()["embed_origins"] is None  # nothing changed


def test_embed_origins_body_is_checked(client: MeetingsClient) -> None:
    assert_error(client.request("PUT", "/applications/embed-origins", json={}), 400, "InputValidationError")
    many = [f"https://s{i}.example.com" for i in range(21)]
    assert_error(client.request("PUT", "/applications/embed-origins", json={"embed_origins": many}), 400)
    assert_error(client.request("PUT", "/applications/embed-origins", json={"embed_origins": "https://a.b"}), 400)


def test_cli_sets_and_clears_embed_origins(server: Server, client: MeetingsClient) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "meetkit.cli", "app", "set-embed-origins", *args],
                              env=server.env, capture_output=True, text=True, timeout=60)

    done = cli(client.application_id, "https://a.example.com", "http://localhost:3000")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["embed_origins"] == ["https://a.example.com", "http://localhost:3000"]
    assert client.request("GET", "/applications/embed-origins").json()["embed_origins"] == [
        "https://a.example.com", "http://localhost:3000"]
    bad = cli(client.application_id, "https://a.example.com/path")
    assert bad.returncode == 1 and "no path" in bad.stderr
    assert cli(client.application_id).returncode == 2  # neither origins nor --any / --none
    cleared = cli(client.application_id, "--any")
    assert cleared.returncode == 0 and json.loads(cleared.stdout)["embed_origins"] is None
    assert cli("00000000-0000-0000-0000-000000000000", "--none").returncode == 1


def _token(url: str) -> str:
    return parse_qs(urlparse(url).query)["participant_token"][0]


def test_rotating_the_host_token_revokes_the_old_host_link(server: Server, client: MeetingsClient,
                                                           tmp_path: Path) -> None:
    room = client.create_room({"display_name": "Rotate"})
    old_link = room["_links"]["host_url"]["href"]
    resp = client.request("POST", f"/rooms/{room['id']}/host-token:rotate")
    assert resp.status_code == 200, resp.text
    rotated = resp.json()
    new_link = rotated["_links"]["host_url"]["href"]
    assert _token(new_link) != _token(old_link) and len(_token(new_link)) >= 43
    assert rotated["_links"]["guest_url"] == room["_links"]["guest_url"]
    assert {k: v for k, v in rotated.items() if k != "_links"} == {k: v for k, v in room.items() if k != "_links"}
    assert client.get_room(room["id"])["_links"]["host_url"]["href"] == new_link

    def role(url: str) -> object:
        return page_config(httpx.get(url, verify=server.ssl).text)["role"]

    assert role(old_link) == "guest"
    assert role(new_link) == "host"
    assert_error(client.request("POST", "/rooms/00000000-0000-0000-0000-000000000000/host-token:rotate"), 404)
    other_id, other_key = create_application(server, tmp_path, "other")
    with MeetingsClient(server.base_url, other_id, other_key, verify=str(server.cert_path)) as other:
        assert_error(other.request("POST", f"/rooms/{room['id']}/host-token:rotate"), 404)
    assert role(new_link) == "host"


# -- the probe budget: a server of its own, 5 misses per address, then (almost) no refill ------------

@pytest.fixture(scope="module")
def probe_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server("sqlite", tmp_path_factory.mktemp("probes"), {
        "MEETKIT_UNKNOWN_CODE_BURST": "5", "MEETKIT_UNKNOWN_CODE_RATE": "0.01"}, tls=False)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def probe_client(probe_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeetingsClient]:
    app_id, key = create_application(probe_server, tmp_path_factory.mktemp("probe-keys"))
    with MeetingsClient(probe_server.base_url, app_id, key) as c:
        yield c


def from_address(address: str) -> httpx.Client:
    """HTTP from one loopback address (the server sees it as the client's)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


def test_unknown_meeting_pages_are_throttled_per_address(probe_server: Server, probe_client: MeetingsClient) -> None:
    room = probe_client.create_room({"display_name": "Known"})
    known = room["_links"]["guest_url"]["href"]
    base = probe_server.base_url
    with from_address("127.0.0.7") as prober, from_address("127.0.0.8") as neighbour:
        assert prober.get(known).status_code == 200  # hits spend nothing
        for i in range(5):
            assert prober.get(f"{base}/{100000000 + i}").status_code == 404
        refused = prober.get(f"{base}/{100000009}")
        body = assert_error(refused, 429, "TooManyRequestsError")
        assert "unknown meetings" in body["message"]
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["x-content-type-options"] == "nosniff"
        # Past the budget a hit is refused as well: the answer tells a prober nothing.
        assert prober.get(known).status_code == 429
        # Another address is not affected.
        assert neighbour.get(known).status_code == 200
        assert neighbour.get(f"{base}/{100000009}").status_code == 404


def test_unknown_room_ids_are_throttled_per_address(probe_server: Server, probe_client: MeetingsClient) -> None:
    room = probe_client.create_room({"display_name": "Known"})
    api = f"{probe_server.base_url}/v1/meetings"

    def get(http: httpx.Client, room_id: str) -> httpx.Response:
        return http.get(f"{api}/rooms/{room_id}", headers={"Authorization": f"Bearer {probe_client.token()}"})

    with from_address("127.0.0.9") as prober, from_address("127.0.0.10") as neighbour:
        for i in range(5):
            assert get(prober, f"no-such-room-{i}").status_code == 404
        refused = get(prober, "no-such-room-5")
        assert_error(refused, 429, "TooManyRequestsError")
        assert int(refused.headers["retry-after"]) >= 1
        assert get(prober, room["id"]).status_code == 429
        assert get(neighbour, room["id"]).status_code == 200


def test_start_up_warns_about_applications_without_a_list(tmp_path: Path) -> None:
    first = start_server("sqlite", tmp_path / "a", tls=False)
    try:
        create_application(first, tmp_path)
        listed_id, listed_key = create_application(first, tmp_path)
        with MeetingsClient(first.base_url, listed_id, listed_key) as listed:
            assert listed.request("PUT", "/applications/embed-origins",
                                  json={"embed_origins": ["https://shop.example.com"]}).status_code == 200
        assert "allowed embedding origins" not in first.log_path.read_text()  # none existed at start-up
    finally:
        stop_server(first)
    again = start_server("sqlite", tmp_path / "b", database_url=first.database_url, tls=False)
    try:
        log = again.log_path.read_text()
        assert "1 application(s) have no allowed embedding origins: any site may frame their meetings" in log
    finally:
        stop_server(again)

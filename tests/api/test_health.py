"""``/healthz``, ``/readyz`` and ``/metrics`` (issue 12): what haproxy and Prometheus ask a node, against
real ``meetkit serve`` processes."""

from __future__ import annotations

from pathlib import Path

import httpx

from meetkit.client import MeetingsClient

from ..support import Server, free_port, metric_sample, start_server, stop_server


def _get(server: Server, path: str, **kw: object) -> httpx.Response:
    return httpx.get(server.base_url + path, verify=server.ssl, timeout=10, **kw)  # type: ignore[arg-type]


def test_healthz_and_readyz_on_a_healthy_node(server: Server) -> None:
    r = _get(server, "/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = _get(server, "/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "redis": "off", "media": "off"}}


def test_metrics_count_rest_requests_by_route_and_read_the_queues(server: Server, client: MeetingsClient) -> None:
    before = _get(server, "/metrics")
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
    created = metric_sample(before.text, "meetkit_rest_request_seconds_count", method="POST",
                      route="/v1/meetings/rooms", status="2xx") or 0.0
    room = client.create_room({"display_name": "metered"})
    client.get_room(room["id"])
    after = _get(server, "/metrics").text
    assert metric_sample(after, "meetkit_rest_request_seconds_count", method="POST", route="/v1/meetings/rooms",
                   status="2xx") == created + 1
    # By route template: the room's id is never a label (the series stay few, ids stay out of metrics).
    assert metric_sample(after, "meetkit_rest_request_seconds_count", method="GET",
                   route="/v1/meetings/rooms/{room_id}", status="2xx") is not None
    assert room["id"] not in after
    for gauge in ("meetkit_live_meetings", "meetkit_sockets", "meetkit_webhook_queue_depth",
                  "meetkit_webhook_queue_oldest_seconds", "meetkit_recording_queue_depth"):
        value = metric_sample(after, gauge)
        assert value is not None and value >= 0, gauge
    assert metric_sample(after, "meetkit_participants", state="joined") == 0.0


def test_metrics_need_the_token_when_one_is_set(tmp_path: Path) -> None:
    srv = start_server("sqlite", tmp_path, {"MEETKIT_METRICS_TOKEN": "scrape-me-please"})
    try:
        r = _get(srv, "/metrics")  # loopback, but a token is configured: it is needed
        assert r.status_code == 403 and r.json()["name"] == "ForbiddenError"
        assert _get(srv, "/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        r = _get(srv, "/metrics", headers={"Authorization": "Bearer scrape-me-please"})
        assert r.status_code == 200 and metric_sample(r.text, "meetkit_live_meetings") == 0.0
    finally:
        stop_server(srv)


def test_readyz_says_unready_when_the_media_server_cannot_be_reached(tmp_path: Path) -> None:
    nobody = f"ws://127.0.0.1:{free_port()}"  # nothing listens here
    srv = start_server("sqlite", tmp_path, {"MEETKIT_MEDIA_MODE": "external", "MEETKIT_JANUS_URL": nobody})
    try:
        r = _get(srv, "/readyz")
        assert r.status_code == 503
        assert r.json() == {"status": "unready", "checks": {"database": "ok", "redis": "off", "media": "unavailable"}}
        assert _get(srv, "/healthz").status_code == 200  # alive, just not ready
    finally:
        stop_server(srv)

"""What one meetkit process counts for Prometheus (``GET /metrics``, docs/operations.md).

Each process has its own registry (a test makes many apps in one interpreter; the library's global
registry would mix them). Counters and histograms are fed where things happen (REST requests, webhook
attempts, recording compositions); the gauges of what exists right now (live meetings, sockets,
queues) are read at scrape time by ``api/health.py``, so they cannot drift from the truth.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST

# REST answers take milliseconds; webhook attempts and compositions take up to their timeouts.
_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SLOW = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.rest_seconds = Histogram(
            "meetkit_rest_request_seconds", "REST and page requests, by method, route template and status class",
            ["method", "route", "status"], buckets=_FAST, registry=r)
        self.webhook_attempts = Counter(
            "meetkit_webhook_attempts", "Webhook delivery attempts, by the delivery's state after the attempt "
            "(delivered, pending: to be retried, failed, dead)", ["outcome"], registry=r)
        self.webhook_seconds = Histogram(
            "meetkit_webhook_attempt_seconds", "Time from sending a webhook to its answer (or timeout)",
            buckets=_SLOW, registry=r)
        self.compositions = Counter(
            "meetkit_recording_compositions", "Recordings composed, by outcome (uploaded, failed)",
            ["outcome"], registry=r)
        self.compose_seconds = Histogram(
            "meetkit_recording_compose_seconds", "Time to compose and upload one recording",
            buckets=_SLOW, registry=r)
        # Read at scrape time (api/health.py).
        self.live_meetings = Gauge("meetkit_live_meetings", "Meetings with someone connected on this node",
                                   registry=r)
        self.participants = Gauge("meetkit_participants", "Participants on this node, by state (joined, waiting)",
                                  ["state"], registry=r)
        self.sockets = Gauge("meetkit_sockets", "Open meeting sockets on this node", registry=r)
        self.janus_up = Gauge("meetkit_janus_connected", "1 while this node's connection to a Janus is up",
                              ["janus"], registry=r)
        self.janus_streams = Gauge(
            "meetkit_janus_streams", "Streams a Janus carries for this node's meetings, by direction "
            "(published: received from browsers, forwarded: sent to subscribers)", ["janus", "direction"],
            registry=r)
        self.webhook_queue = Gauge("meetkit_webhook_queue_depth", "Webhook deliveries pending (the whole deployment)",
                                   registry=r)
        self.webhook_age = Gauge("meetkit_webhook_queue_oldest_seconds",
                                 "Age of the oldest pending webhook delivery (0 when none)", registry=r)
        self.recording_queue = Gauge("meetkit_recording_queue_depth",
                                     "Stopped recordings waiting to be composed (the whole deployment)", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)

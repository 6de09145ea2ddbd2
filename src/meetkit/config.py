"""Typed settings, read from the environment (prefix ``MEETKIT_``) or a ``.env`` file.

Secrets are never defaulted to a constant: when ``MEETKIT_SECRET_KEY`` is not given, a random one is
generated once and kept in the data folder, so signed links survive a restart.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .domain.placement import JanusEntry, parse_janus_urls

_WEAK_SECRETS = {"", "changeme", "change-me", "secret", "changethis"}


class DialInNumber(BaseModel):
    number: str
    locale: str
    display_name: str


class Settings(BaseSettings):
    # Errors name the setting, never echo the input: it may hold a secret (MEETKIT_S3_SECRET_ACCESS_KEY).
    model_config = SettingsConfigDict(env_prefix="MEETKIT_", env_file=".env", extra="ignore",
                                      hide_input_in_errors=True)

    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default: SQLite file meetkit.db in the data folder.",
    )
    sqlite_readers: int = Field(
        default=4, ge=1, le=64, description="SQLite: read-only connections beside the one writer (WAL readers never "
        "wait for the writer). PostgreSQL is the production database; see docs/configuration.md.")
    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Base URL of this server as browsers reach it; host and guest links start with it.",
    )
    secret_key: str | None = Field(default=None, description="Signs upload policies and download links.")

    # Limits of the contract, configurable.
    max_rooms_per_application: int = 1000
    max_themes_per_application: int = 1000
    max_page_size: int = 1000

    # Fair shares between applications (api/fairness.py). See docs/security.md.
    api_requests_per_application: int = Field(
        default=8, ge=1, description="Units of REST work of one application in progress at once (a request is 1, a "
        "listing 1 per 125 items asked for); more wait their turn.")
    api_queue_per_application: int = Field(
        default=1000, ge=0, description="Requests of one application waiting for a turn; past it, 429.")

    # Room lifecycle windows (seconds).
    instant_room_join_window: int = Field(default=600, ge=1, description="An instant room nobody joins expires.")
    room_idle_window: int = Field(default=600, ge=1, description="After the last session ends (instant rooms, "
                                  "expire_after_use).")
    expired_room_retention: int = Field(default=30 * 24 * 3600, ge=0, description="Then an expired room is deleted.")
    lifecycle_poll_interval: float = Field(default=1.0, gt=0)

    # Logo uploads.
    upload_policy_ttl: int = Field(default=3600, ge=1, le=7 * 24 * 3600, description="How long a signed upload "
                                   "policy is valid (seconds); an upload never finalized is swept this long after.")
    max_upload_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024, description="The "
                                  "largest file an upload policy admits; the /uploads body may be 1 MiB more.")
    max_logo_bytes: int = Field(default=1024 * 1024, ge=1024, le=1024 * 1024 * 1024, description="The largest "
                                "logo finalize accepts.")

    # Request bodies. See docs/security.md.
    max_request_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, le=1024 * 1024 * 1024, description="The largest request body of any route "
        "but /uploads, refused with 413 before routing and authentication.")

    # Operations. See docs/operations.md.
    metrics_token: SecretStr | None = Field(
        default=None, description="A bearer token that lets a scraper read /metrics from any address; "
        "without it /metrics answers loopback clients only.")

    # Signed download links for recordings (seconds).
    download_link_ttl: int = 3600

    # JWT verification.
    jwt_leeway: int = 30
    jwt_max_lifetime: int = 24 * 3600

    dial_in_numbers: list[DialInNumber] = Field(default_factory=list)

    # Webhooks (seconds). See docs/webhooks.md.
    webhook_timeout: float = Field(default=10.0, gt=0, description="One delivery attempt, connect to answer.")
    webhook_initial_backoff: float = Field(default=1.0, gt=0)
    webhook_max_backoff: float = Field(default=300.0, gt=0)
    webhook_retry_period: float = Field(default=24 * 3600, ge=0, description="Then the delivery is dead.")
    webhook_poll_interval: float = Field(default=0.25, gt=0)
    webhook_concurrency: int = Field(default=16, ge=1, description="Targets delivered to at once.")
    allow_private_callback_targets: bool = Field(
        default=False, description="Deliver to private, loopback and link-local addresses (tests, labs).")

    # The meeting (signalling). See docs/signalling.md.
    max_participants: int = Field(default=250, ge=1, description="Participants in one meeting at once.")
    max_video_senders: int = Field(default=25, ge=1, description="Cameras and screens sent at once in one meeting.")
    resume_grace: float = Field(default=20.0, ge=0, description="A dropped socket may resume within (seconds).")
    max_chat_length: int = Field(default=2000, ge=1)

    # The meeting socket's flow control (signalling/flow.py, coalesce.py). See docs/signalling.md, "Flow control".
    socket_max_frame_bytes: int = Field(default=128 * 1024, ge=70 * 1024, le=16 * 1024 * 1024,
                                        description="The largest frame a browser may send (bytes).")
    socket_send_queue_frames: int = Field(default=2000, ge=16, le=100_000, description="Frames queued for one "
                                          "socket before it counts as a slow reader and is closed (4408).")
    socket_send_queue_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024, le=1024 * 1024 * 1024,
                                         description="Bytes queued for one socket before it is closed (4408).")
    socket_chat_rate: float = Field(default=5.0, gt=0, le=10_000, description="chat.send per second per socket.")
    socket_chat_burst: int = Field(default=20, ge=1, le=100_000)
    socket_state_rate: float = Field(default=10.0, gt=0, le=10_000,
                                     description="hand, media.state and talking per second per socket.")
    socket_state_burst: int = Field(default=50, ge=1, le=100_000)
    socket_media_rate: float = Field(default=20.0, gt=0, le=10_000,
                                     description="media.publish/unpublish/view/answer/ice_restart per second.")
    socket_media_burst: int = Field(default=200, ge=1, le=100_000)
    socket_host_rate: float = Field(default=10.0, gt=0, le=10_000, description="host.* per second per socket.")
    socket_host_burst: int = Field(default=50, ge=1, le=100_000)
    socket_board_rate: float = Field(default=20.0, gt=0, le=10_000, description="board.update and board.get per "
                                     "second per socket (a page sends a stroke at most every 100 ms).")
    socket_board_burst: int = Field(default=100, ge=1, le=100_000)
    max_board_file_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024,
                                      description="The largest image placed on a whiteboard (bytes).")
    max_watch_file_bytes: int = Field(default=2 * 1024**3, ge=1024, le=64 * 1024**3,
                                      description="The largest video a host uploads to watch together (bytes).")
    socket_ping_rate: float = Field(default=1.0, gt=0, le=10_000, description="ping per second per socket.")
    socket_ping_burst: int = Field(default=10, ge=1, le=100_000)
    socket_other_rate: float = Field(default=5.0, gt=0, le=10_000, description="Frames that are not a valid "
                                     "message (bad JSON, binary, unknown type, a second hello) per second.")
    socket_other_burst: int = Field(default=20, ge=1, le=100_000)
    socket_abuse_strikes: int = Field(default=100, ge=1, le=100_000, description="Rate-limited frames allowed "
                                      "within socket_abuse_window; one more closes the socket (4429).")
    socket_abuse_window: float = Field(default=10.0, gt=0, le=3600, description="seconds")
    socket_opens_rate: float = Field(default=1.0, gt=0, le=10_000, description="Meeting sockets one client address "
                                     "may open per second (resumes included), after the burst; past it, close 4430.")
    socket_opens_burst: int = Field(default=60, ge=1, le=1_000_000)
    max_sockets_per_address: int = Field(default=100, ge=1, le=1_000_000, description="Meeting sockets open at "
                                         "once from one client IP address; the next is closed 4430.")
    state_update_interval: float = Field(default=0.2, gt=0, le=10, description="A participant's participant."
                                         "updated and talking reach others at most once per interval (seconds).")
    lobby_update_interval: float = Field(default=0.5, gt=0, le=10, description="lobby.update deltas reach "
                                         "hosts at most once per interval (seconds).")
    max_lobby: int | None = Field(default=None, ge=0, le=100_000, description="People waiting in one room's "
                                  "lobby at once; unset: the room's free places (max_participants - joined).")

    # Probing for meeting codes. See docs/configuration.md ("Embedding and probing").
    unknown_code_burst: int = Field(
        default=60, ge=1, le=1_000_000, description="Lookups of meetings that do not exist (pages, sockets, "
        "GET /rooms/{id}) one client address may make at once before it is refused with 429 / close 4431.")
    unknown_code_rate: float = Field(
        default=1.0, gt=0, le=10_000, description="Then this many such lookups a second (the budget refills).")

    # Recording. See docs/recording.md.
    recording_max_attempts: int = Field(default=5, ge=1, description="Compositions tried before giving up.")
    recording_retry_backoff: float = Field(default=30.0, gt=0, description="First retry delay (seconds), doubled "
                                           "each time.")
    keep_recording_tracks: bool = Field(default=False, description="Keep Janus's .mjr tracks after composing.")

    # Pricing. See docs/pricing.md.
    pricing_mode: Literal["graduated", "volume"] = Field(
        default="graduated", description="graduated: each minute at its own tier's price; volume: every minute of "
        "the month at the price of the tier the month's total reaches.")
    pricing_participant_tiers: str | None = Field(
        default=None, description='Participant-minute tiers as JSON, e.g. [{"up_to": 100000, "price": "0.00475"}, '
        '{"up_to": null, "price": "0.004"}]; unset: the published tiers.')
    pricing_recording_tiers: str | None = Field(
        default=None, description="Recording-minute tiers, same form; unset: the published tiers.")
    pricing_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code of the prices.")
    pricing_rounding: Literal["ceil", "exact"] = Field(
        default="ceil", description="ceil: each participant's and recording's minutes round up to a whole minute; "
        "exact: fractional minutes (kept to six decimal places).")
    usage_poll_interval: float = Field(default=5.0, gt=0, description="How often the usage worker meters ended "
                                       "sessions and recordings (seconds).")

    @field_validator("pricing_participant_tiers", "pricing_recording_tiers")
    @classmethod
    def _check_tiers(cls, v: str | None) -> str | None:
        from .domain.pricing import parse_tiers  # its TierConfigError is a ValueError: names the bad tier

        if v is not None:
            parse_tiers(v)
        return v

    # Object storage. See docs/configuration.md.
    storage_backend: Literal["local", "s3"] = Field(
        default="local", description="local: files under <data_dir>/objects; s3: an S3-compatible bucket.")
    s3_endpoint_url: str | None = Field(
        default=None, description="S3 mode: the server, e.g. http://127.0.0.1:7480 or https://s3.example.com "
        "(path-style requests); unset: AWS S3 in s3_region.")
    s3_region: str = Field(default="us-east-1", min_length=1, description="S3 mode: the region requests are "
                           "signed for.")
    s3_bucket: str | None = Field(default=None, description="S3 mode: the bucket (it must exist).")
    s3_access_key_id: str | None = Field(default=None, description="S3 mode: the access key id.")
    s3_secret_access_key: SecretStr | None = Field(default=None, description="S3 mode: the secret access key.")
    s3_prefix: str = Field(default="", description="S3 mode: a folder in the bucket for meetkit's objects, "
                           "e.g. meetkit/.")
    s3_presign_ttl: int = Field(default=300, ge=1, le=7 * 24 * 3600, description="S3 mode: how long the "
                                "presigned URLs that downloads and logos redirect to stay valid (seconds).")

    @model_validator(mode="after")
    def _check_s3(self) -> Settings:
        if self.storage_backend == "s3":
            missing = [name for name in ("s3_bucket", "s3_access_key_id", "s3_secret_access_key")
                       if not getattr(self, name)]
            if missing:
                names = ", ".join(f"MEETKIT_{n.upper()}" for n in missing)
                raise ValueError(f"MEETKIT_STORAGE_BACKEND=s3 needs {names}")
        if self.s3_endpoint_url is not None and not self.s3_endpoint_url.startswith(("http://", "https://")):
            raise ValueError("s3_endpoint_url must start with http:// or https://")
        return self

    @property
    def resolved_s3_endpoint_url(self) -> str:
        return self.s3_endpoint_url or f"https://s3.{self.s3_region}.amazonaws.com"

    # --- several machines (Redis) --- See docs/scale-out.md.
    redis_url: str | None = Field(
        default=None, description="redis://HOST:PORT/DB: this node is a member of a deployment that shares "
        "MEETKIT_DATABASE_URL (PostgreSQL); meetings are owned by one node at a time through leases in Redis. "
        "Unset: single-process mode.")
    node_id: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9._-]+$",
                                description="This node's name in the deployment; default: host name and a "
                                "random suffix, new at each start.")
    room_lease_seconds: float = Field(default=6.0, ge=1.0, le=60.0, description="How long a node's ownership "
                                      "of a meeting lasts without renewal (renewed every third of it): how "
                                      "soon another node may take over the meetings of a node that died.")

    @model_validator(mode="after")
    def _check_cluster(self) -> Settings:
        if self.redis_url is not None:
            if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError("MEETKIT_REDIS_URL must start with redis://, rediss:// or unix://")
            if not (self.database_url or "").startswith("postgresql"):
                raise ValueError("MEETKIT_REDIS_URL needs a shared PostgreSQL MEETKIT_DATABASE_URL "
                                 "(SQLite is for a single process)")
            if self.secret_key is None:  # each node would generate its own, and refuse the others' links
                raise ValueError("MEETKIT_REDIS_URL needs MEETKIT_SECRET_KEY, the same on every node")
        return self
    # --- end several machines ---

    # --- media (Janus) ---
    # See docs/media.md.
    media_mode: Literal["managed", "external", "off"] = Field(
        default="managed",
        description="managed: meetkit runs its own Janus (config in <data_dir>/janus); external: use janus_url; "
        "off: no media (signalling only).")
    janus_url: str | None = Field(
        default=None, description="External mode: the Janus WebSocket API, e.g. ws://127.0.0.1:8188 (keep it on "
        "loopback or a private link: meetkit is its only client).")
    janus_admin_key: str | None = Field(
        default=None, description="External mode: the videoroom plugin's admin_key (needed to create rooms).")
    janus_api_secret: str | None = Field(
        default=None, description="External mode: Janus's api_secret, when the Janus is configured with one.")
    janus_urls: str | None = Field(
        default=None, description="A pool of Janus servers (external mode): name=ws://host:port, comma-separated; "
        "each new meeting goes to the least loaded (docs/scale-out.md). All share janus_admin_key and "
        "janus_api_secret. Replaces janus_url.")
    janus_stress_streams: int = Field(default=4000, ge=1, description="A pooled Janus forwarding this many "
                                      "streams (estimated) gets no new meeting while another has room.")
    janus_stress_participants: int = Field(default=500, ge=1, description="… or holding this many participants.")
    janus_stress_joins: int = Field(default=120, ge=1, description="… or sent this many joins by this node in "
                                    "the last minute.")
    janus_cascade_receivers: int = Field(
        default=120, ge=0, description="A pool's cascading: a meeting's Janus carries this many receivers; the "
        "next receive on another Janus of the pool, which gets the publishers' streams as remote publishers "
        "(docs/scale-out.md). 0: never cascade.")
    janus_ws_ip: str = Field(default="127.0.0.1", description="Managed mode and `meetkit janus run`: the address "
                             "the Janus API listens on (a pool's Janus on another machine: its private address).")
    janus_ws_acl: str = Field(default="127.0.0.1", description="… and the addresses (prefixes, comma-separated) "
                              "that may connect to it: the meetkit nodes.")
    janus_reclaim_seconds: int = Field(default=0, ge=0, le=600, description="How long Janus keeps a meetkit "
                                       "connection's sessions (and their media) after it drops; 0 ends them at "
                                       "once. A pool's Janus: 30, so media flows on while another node takes a "
                                       "meeting over.")
    janus_binary: str = Field(default="/usr/bin/janus", description="Managed mode: the Janus executable.")
    janus_lib_dir: Path | None = Field(
        default=None, description="Managed mode: folder holding Janus's plugins/ and transports/; "
        "default: found next to the binary (e.g. /usr/lib/x86_64-linux-gnu/janus).")
    janus_ws_port: int = Field(default=8188, ge=1, le=65535,
                               description="Managed mode: Janus API WebSocket port, bound to 127.0.0.1.")
    janus_admin_port: int | None = Field(
        default=7188, ge=1, le=65535,
        description="Managed mode: Janus Admin API WebSocket port, bound to 127.0.0.1; unset: no Admin API.")
    media_rtp_ports: str = Field(
        default="20000-40000", pattern=r"^\d{1,5}-\d{1,5}$",
        description="UDP port range Janus uses for ICE/RTP (open it in the firewall).")
    media_ice_interface: str | None = Field(
        default=None, description="Interfaces or addresses Janus gathers ICE candidates on (ice_enforce_list, "
        "comma-separated), e.g. eth0; tests use 127.0.0.5 on a veth (scripts/media-net.sh).")
    media_nat_1_1: str | None = Field(
        default=None, description="Public address(es) to advertise instead of the local one (nat_1_1_mapping), "
        "for a server behind 1:1 NAT (cloud VMs).")
    media_candidate_networks: str | None = Field(
        default=None, description="Comma-separated CIDRs: ICE candidates of browsers outside them are dropped "
        "before Janus sees them (e.g. 127.0.0.0/8 keeps a lab on loopback); unset: all kept.")
    # Who hears whom (domain/audio_slots.py, signalling/subscriptions.py; docs/media.md "Everyone heard").
    audio_all_up_to: int = Field(default=10, ge=0, le=1000, description="Up to this many unmuted audio senders "
                                 "in a meeting, everyone receives every one of them directly.")
    audio_slots: int = Field(default=8, ge=1, le=64, description="Above audio_all_up_to, the audio m-lines each "
                             "participant receives, pointed by meetkit at the most recent speakers (plus hosts "
                             "and the presenter, always received directly).")
    audio_active_packets: int = Field(default=5, ge=1, le=1000, description="Janus talking detection: audio "
                                      "packets (20 ms each) averaged; 5 ≈ 100 ms (bench/talk.py).")
    audio_level_average: int = Field(default=40, ge=1, le=127, description="Janus talking detection: average "
                                     "level (-dBov, 127 = silence) louder than this counts as talking.")

    @property
    def janus_pool(self) -> list[JanusEntry]:
        """The pool's Janus servers (``janus_urls``); empty without one."""
        return parse_janus_urls(self.janus_urls) if self.janus_urls else []

    @model_validator(mode="after")
    def _check_pool(self) -> Settings:
        if self.janus_urls is not None:
            self.janus_pool  # noqa: B018 — raises ValueError naming what is wrong
            if self.media_mode != "external":
                raise ValueError("MEETKIT_JANUS_URLS needs MEETKIT_MEDIA_MODE=external (the pool's Janus "
                                 "servers run on their own: deploy/systemd/meetkit-janus.service)")
        return self
    # --- end media ---

    # --- TURN (coturn) --- See docs/media.md, "TURN".
    turn_mode: Literal["managed", "external", "off"] | None = Field(
        default=None, description="managed: meetkit runs its own coturn (config in <data_dir>/turn); external: "
        "turn_urls + turn_secret; off: no TURN. Unset: external when turn_urls is set, else off.")
    turn_urls: str | None = Field(
        default=None, description="External mode: comma-separated TURN URLs given to browsers, e.g. "
        "turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349?transport=tcp.")
    turn_secret: SecretStr | None = Field(
        default=None, description="External mode: the TURN server's static-auth-secret (use-auth-secret).")
    turn_credential_ttl: int = Field(
        default=3600, ge=10, le=7 * 24 * 3600, description="How long a participant's TURN credentials are valid "
        "(seconds); fresh ones are sent (ice.servers) at 75 % of it.")
    turn_binary: str = Field(default="/usr/bin/turnserver", description="Managed mode: the coturn executable.")
    turn_host: str | None = Field(
        default=None, description="Managed mode: the host name or address browsers reach coturn at (in the "
        "turn:/turns: URLs); default: the host of public_url.")
    turn_port: int = Field(default=3478, ge=1, le=65535, description="Managed mode: TURN over UDP and TCP.")
    turn_tls_port: int = Field(default=5349, ge=1, le=65535,
                               description="Managed mode: TURN over TLS (only with turn_tls_cert and turn_tls_key).")
    turn_tls_cert: Path | None = Field(default=None, description="Managed mode: PEM certificate for turns: "
                                       "(its name must match turn_host); unset: no TLS listener.")
    turn_tls_key: Path | None = Field(default=None, description="Managed mode: the certificate's PEM key.")
    turn_listening_ips: str | None = Field(
        default=None, description="Managed mode: comma-separated addresses coturn listens on; unset: all.")
    turn_relay_ips: str | None = Field(
        default=None, description="Managed mode: comma-separated addresses coturn relays from (an address Janus "
        "can answer, e.g. the one in media_ice_interface); unset: coturn's choice.")
    turn_external_ip: str | None = Field(
        default=None, description="Managed mode: behind 1:1 NAT, public[/private] address coturn advertises.")
    turn_relay_ports: str = Field(
        default="49152-65535", pattern=r"^\d{1,5}-\d{1,5}$",
        description="Managed mode: UDP port range of relayed addresses (open it in the firewall).")
    turn_realm: str | None = Field(default=None, description="Managed mode: the realm; default: turn_host.")
    turn_allowed_peer_ips: str | None = Field(
        default=None, description="Managed mode: comma-separated addresses or ranges (a-b) relayed to even if "
        "private; the IP addresses in media_ice_interface are always allowed (Janus must be reachable).")
    turn_allow_loopback_peers: bool = Field(
        default=False, description="Managed mode: relay to loopback-range addresses that are allowed (tests "
        "only: Janus on 127.0.0.5); other loopback addresses stay denied.")
    # --- end TURN ---

    @property
    def resolved_turn_mode(self) -> Literal["managed", "external", "off"]:
        if self.turn_mode is not None:
            return self.turn_mode
        return "external" if self.turn_urls else "off"

    @model_validator(mode="after")
    def _check_turn(self) -> Settings:
        mode = self.resolved_turn_mode
        if mode == "external" and not (self.turn_urls and self.turn_secret):
            raise ValueError("external TURN needs MEETKIT_TURN_URLS and MEETKIT_TURN_SECRET")
        if (self.turn_tls_cert is None) != (self.turn_tls_key is None):
            raise ValueError("TURN over TLS needs both MEETKIT_TURN_TLS_CERT and MEETKIT_TURN_TLS_KEY")
        if mode == "managed" and self.turn_tls_cert is not None and self.turn_tls_port == self.turn_port:
            raise ValueError("MEETKIT_TURN_TLS_PORT must differ from MEETKIT_TURN_PORT")
        return self

    # --- captions (speech to text) --- See docs/captions.md, "Engines".
    captions_engine: Literal["pocketsphinx", "vosk", "openai", "off"] = Field(
        default="pocketsphinx", description="pocketsphinx: in-process, offline, English only; vosk: a Vosk server "
        "(captions_engine_url ws://...); openai: an OpenAI-compatible /v1/audio/transcriptions endpoint "
        "(captions_engine_url http(s)://...; finals only); off: no captions.")
    captions_engine_url: str | None = Field(
        default=None, description="vosk: the server's WebSocket URL, e.g. ws://127.0.0.1:2700; openai: the full URL "
        "of the transcriptions endpoint, e.g. http://127.0.0.1:8000/v1/audio/transcriptions. Audio goes there.")
    captions_engine_model: str = Field(default="whisper-1", min_length=1, max_length=200,
                                       description="openai: the model field of each request.")
    captions_engine_language: str = Field(default="en", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$",
                                          description="openai: the language field (ISO 639-1) of each request.")
    captions_engine_api_key: SecretStr | None = Field(
        default=None, description="openai: sent as Authorization: Bearer; never logged.")
    captions_engine_timeout: float = Field(default=10.0, gt=0, le=300, description="vosk and openai: connecting, "
                                           "and each reply (seconds); past it the speaker's captions stop.")
    captions_max_speakers: int = Field(default=8, ge=1, le=1000, description="speakers this node transcribes at "
                                       "once, over all its meetings (pocketsphinx: ~0.25 of a core and ~90 MB each).")

    @model_validator(mode="after")
    def _check_captions(self) -> Settings:
        url, engine = self.captions_engine_url, self.captions_engine
        if engine in ("vosk", "openai"):
            schemes = ("ws://", "wss://") if engine == "vosk" else ("http://", "https://")
            if not url:
                raise ValueError(f"MEETKIT_CAPTIONS_ENGINE={engine} needs MEETKIT_CAPTIONS_ENGINE_URL")
            if not url.startswith(schemes):
                raise ValueError(f"MEETKIT_CAPTIONS_ENGINE_URL must start with {' or '.join(schemes)} for {engine}")
        elif url is not None:  # a URL that would silently not be used hides a misconfiguration
            raise ValueError(f"MEETKIT_CAPTIONS_ENGINE_URL is only used by vosk and openai, not {engine}")
        return self
    # --- end captions ---

    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("public_url must start with http:// or https://")
        return v.rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'meetkit.db').resolve()}"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    def ensure_dirs(self) -> None:
        for d in (self.data_dir, self.objects_dir, self.keys_dir):
            d.mkdir(parents=True, exist_ok=True)

    def resolved_secret_key(self) -> bytes:
        """The server secret: from settings, else generated once into the data folder."""
        if self.secret_key is not None:
            if self.secret_key.strip().lower() in _WEAK_SECRETS or len(self.secret_key) < 16:
                raise ValueError("MEETKIT_SECRET_KEY is too weak: use at least 16 random characters")
            return self.secret_key.encode()
        self.ensure_dirs()
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip().encode()

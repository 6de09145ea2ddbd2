"""The database schema. Alembic migrations under migrations/ create exactly this."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .types import Minutes, UTCDateTime

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
SerialType = BigInteger().with_variant(Integer(), "sqlite")
# Rows ended but not yet metered for usage (sessions, recordings): a partial index holds only these.
_UNMETERED = text("ended_at IS NOT NULL AND usage_metered_at IS NULL")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Application(Base):
    __tablename__ = "applications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[str] = mapped_column(String(64))
    public_key_pem: Mapped[str] = mapped_column(Text)
    # No foreign key: themes reference applications; deleting a theme clears this in the same transaction.
    default_theme_id: Mapped[str | None] = mapped_column(String(36))
    room_changed_url: Mapped[str | None] = mapped_column(String(2048))
    session_changed_url: Mapped[str | None] = mapped_column(String(2048))
    recording_changed_url: Mapped[str | None] = mapped_column(String(2048))
    webhook_secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    # Origins allowed to frame the meetings (domain/embedding.py); None: any site, [] : none.
    embed_origins: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True), nullable=True)


class Theme(Base):
    __tablename__ = "themes"
    __table_args__ = (
        UniqueConstraint("application_id", "theme_name", name="uq_theme_name_per_app"),
        # Short URLs are unique without regard to case (migration 0010).
        Index("uq_theme_short_url_ci", func.lower(text("short_company_url")), unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), ForeignKey("applications.id"), index=True)
    theme_name: Mapped[str] = mapped_column(String(200))
    main_color: Mapped[str] = mapped_column(String(7))
    brand_text: Mapped[str] = mapped_column(String(200))
    short_company_url: Mapped[str | None] = mapped_column(String(128), unique=True)
    brand_image_colored: Mapped[str | None] = mapped_column(String(512))
    brand_image_white: Mapped[str | None] = mapped_column(String(512))
    branded_favicon: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime]


class Room(Base):
    __tablename__ = "rooms"
    __table_args__ = (
        # A meeting code names one live room; expired rooms may share a code with a new one.
        Index(
            "uq_live_meeting_code",
            "meeting_code",
            unique=True,
            sqlite_where=text("is_available"),
            postgresql_where=text("is_available"),
        ),
        Index("ix_rooms_app_serial", "application_id", "serial"),
        # The room limit counts an application's live rooms on every create: an index-only count.
        Index("ix_rooms_app_live", "application_id", "is_available"),
        Index("ix_rooms_theme_serial", "theme_id", "serial"),
    )

    serial: Mapped[int] = mapped_column(SerialType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    application_id: Mapped[str] = mapped_column(String(36), ForeignKey("applications.id"))
    display_name: Mapped[str] = mapped_column(String(200))
    meta: Mapped[str | None] = mapped_column("metadata", String(500))
    type: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime]
    expire_after_use: Mapped[bool] = mapped_column(Boolean, default=False)
    theme_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("themes.id", ondelete="SET NULL"))
    join_approval_level: Mapped[str] = mapped_column(String(32))
    recording_options: Mapped[dict[str, Any]]
    initial_join_options: Mapped[dict[str, Any]]
    callback_urls: Mapped[dict[str, Any]]
    available_features: Mapped[dict[str, Any]]
    ui_settings: Mapped[dict[str, Any]]
    meeting_code: Mapped[str] = mapped_column(String(9))
    host_token: Mapped[str] = mapped_column(String(64), unique=True)
    is_available: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    # The room's lifecycle timer, durable because it is a column: when it is due the lifecycle worker
    # expires the room. NULL while nothing can expire it (an instant room with a session running).
    expiry_due_at: Mapped[datetime | None] = mapped_column(index=True, default=None)
    expired_at: Mapped[datetime | None] = mapped_column(index=True, default=None)
    # The fencing epoch of the node that owns the room's live meeting (storage/fences.py): the meeting's
    # writes check it, so an owner that lost its lease (paused, cut off) cannot write after a newer one
    # took over. 0 in single-process mode, where nothing is fenced.
    owner_epoch: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))


class Session(Base):
    """A meeting session: from the first join to the last leave."""

    __tablename__ = "sessions"
    __table_args__ = (
        # At most one running session per room, whatever the number of meetkit processes.
        Index("uq_running_session", "room_id", unique=True, sqlite_where=text("ended_at IS NULL"),
              postgresql_where=text("ended_at IS NULL")),
        # Ended sessions whose participant minutes are not metered yet: the usage worker's queue.
        Index("ix_sessions_unmetered", "application_id", "ended_at", sqlite_where=_UNMETERED,
              postgresql_where=_UNMETERED),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(36), ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    application_id: Mapped[str] = mapped_column(String(36), ForeignKey("applications.id"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # Set when the usage worker stored this session's participant minutes (usage_items).
    usage_metered_at: Mapped[datetime | None] = mapped_column(default=None)
    # The pooled Janus the meeting's media is on (MEETKIT_JANUS_URLS); None without a pool.
    media_server: Mapped[str | None] = mapped_column(String(64), default=None)
    # The host made the whiteboard read-only for guests (``host.board_lock``).
    board_read_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # What is being watched together (domain/watch.Timeline as JSON), None when nothing is.
    watch: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    # A host turned live captions on (``captions.start``): a node taking the meeting over goes on with them.
    captions_on: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class MediaServer(Base):
    """A Janus of the pool an operator drained (``meetkit media drain``): it gets no new meeting."""

    __tablename__ = "media_servers"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    draining: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime]


class Participant(Base):
    """One person's presence in one session: the basis of participant-minute metering.

    ``left_at`` is NULL while the participant is in the meeting. A resumed connection keeps its row."""

    __tablename__ = "participants"
    __table_args__ = (Index("ix_participants_session_left", "session_id", "left_at"),
                      Index("ix_participants_room_browser", "room_id", "browser_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), ForeignKey("sessions.id", ondelete="CASCADE"))
    room_id: Mapped[str] = mapped_column(String(36), index=True)
    application_id: Mapped[str] = mapped_column(String(36), ForeignKey("applications.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    is_host: Mapped[bool] = mapped_column(Boolean, default=False)
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None] = mapped_column(default=None)
    left_reason: Mapped[str | None] = mapped_column(String(16), default=None)
    # The random part of the signed per-browser id (domain/browsers.py): a participant removed with
    # ``host.remove`` (left_reason "removed") keeps its browser out of this session's meeting.
    browser_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # SHA-256 (hex) of the participant's resume token (domain/lobby.resume_digest), never the token:
    # a node that takes the meeting over (cluster/) lets the browser resume with it.
    resume_digest: Mapped[str | None] = mapped_column(String(64), default=None)


class ChatMessage(Base):
    """Chat of a session, kept so late joiners see what was said and the host can export it."""

    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_session_id", "session_id", "id"),)

    id: Mapped[int] = mapped_column(SerialType, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(64), ForeignKey("sessions.id", ondelete="CASCADE"))
    participant_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime]


class BoardElement(Base):
    """One element of a session's whiteboard, the copy that won the merge (domain/board.py): late
    joiners and the REST export read the board from here."""

    __tablename__ = "board_elements"

    session_id: Mapped[str] = mapped_column(String(64), ForeignKey("sessions.id", ondelete="CASCADE"),
                                            primary_key=True)
    element_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    version_nonce: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)  # the element as JSON, in Excalidraw's format
    updated_at: Mapped[datetime]


class BoardFile(Base):
    """An image placed on a session's whiteboard; the bytes are in the object store (``storage_key``)."""

    __tablename__ = "board_files"

    session_id: Mapped[str] = mapped_column(String(64), ForeignKey("sessions.id", ondelete="CASCADE"),
                                            primary_key=True)
    file_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mime: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(512))
    participant_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime]


class WatchFile(Base):
    """A video a host uploaded to watch together; the bytes are in the object store (``storage_key``)."""

    __tablename__ = "watch_files"

    session_id: Mapped[str] = mapped_column(String(64), ForeignKey("sessions.id", ondelete="CASCADE"),
                                            primary_key=True)
    file_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mime: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime]


class TranscriptCue(Base):
    """One final caption: who said what, in ms since the session started (domain/transcript.py)."""

    __tablename__ = "transcript_cues"
    __table_args__ = (Index("ix_transcript_cues_session", "session_id", "start_ms"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), ForeignKey("sessions.id", ondelete="CASCADE"))
    participant_id: Mapped[str] = mapped_column(String(64))
    speaker: Mapped[str] = mapped_column(String(200))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Recording(Base):
    __tablename__ = "recordings"
    __table_args__ = (
        # At most one recording running per session.
        Index("uq_running_recording", "session_id", unique=True, sqlite_where=text("status = 'started'"),
              postgresql_where=text("status = 'started'")),
        # Finished recordings whose minutes are not metered yet: the usage worker's queue.
        Index("ix_recordings_unmetered", "application_id", "ended_at", sqlite_where=_UNMETERED,
              postgresql_where=_UNMETERED),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), ForeignKey("applications.id"), index=True)
    session_id: Mapped[str] = mapped_column(String(64), ForeignKey("sessions.id"), index=True)
    room_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    storage_key: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime]
    # The recording pipeline's durable job: a stopped recording is composed when ``next_attempt_at`` is
    # due (also the lease of the worker composing it); failures back off and keep ``last_error``.
    record_dir: Mapped[str | None] = mapped_column(String(512), default=None)
    only_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True, default=None)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    # Set when the usage worker stored this recording's minutes (usage_items).
    usage_metered_at: Mapped[datetime | None] = mapped_column(default=None)


class LogoUpload(Base):
    """A logo uploaded through a signed policy, waiting to be finalized into a theme."""

    __tablename__ = "logo_uploads"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), ForeignKey("applications.id"), index=True)
    logo_type: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_at: Mapped[datetime]


class UsedToken(Base):
    """JWT ids already seen, kept until the token expires, so a token cannot be replayed."""

    __tablename__ = "used_tokens"

    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class WebhookDelivery(Base):
    """The webhook outbox: one row per (event, target URL), written in the transaction of the change.

    The worker delivers the rows of one ``ordering_key`` (one target) in ``id`` order: a row is sent only
    when no earlier row of its target is still pending. ``next_attempt_at`` is both the retry timer and
    the lease of a worker that has claimed the row, so a row claimed by a process that died is retried."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_pending_due", "next_attempt_at", sqlite_where=text("status = 'pending'"),
              postgresql_where=text("status = 'pending'")),
        Index("ix_webhook_pending_target", "ordering_key", "id", sqlite_where=text("status = 'pending'"),
              postgresql_where=text("status = 'pending'")),
        Index("ix_webhook_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(SerialType, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(String(36), ForeignKey("applications.id"), index=True)
    # No foreign key: a room may be deleted while its events are still on their way.
    room_id: Mapped[str | None] = mapped_column(String(36))
    room_metadata: Mapped[str | None] = mapped_column(String(500))
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    target_url: Mapped[str] = mapped_column(String(2048))
    ordering_key: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    # When the row last entered the queue (created, or replayed): the retry period counts from here.
    queued_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class UsageItem(Base):
    """Metered usage of one participant (one participant row: one join of one session) or one recording.

    Written once by the usage worker (``actions/usage.py``), never updated: ``(kind, subject_id)`` is
    unique, which makes metering idempotent. ``month`` is the UTC month the session or recording ended
    in. No foreign keys: usage outlives deleted rooms, sessions and recordings. The ``micro_minutes``
    column holds millionths of a minute (``storage/types.Minutes``)."""

    __tablename__ = "usage_items"
    __table_args__ = (
        UniqueConstraint("kind", "subject_id", name="uq_usage_item_subject"),
        Index("ix_usage_items_app_month", "application_id", "month", "kind"),
    )

    id: Mapped[int] = mapped_column(SerialType, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(String(36))
    month: Mapped[str] = mapped_column(String(7))
    kind: Mapped[str] = mapped_column(String(16))  # participant | recording
    subject_id: Mapped[str] = mapped_column(String(64))  # participants.id or recordings.id
    session_id: Mapped[str] = mapped_column(String(64))
    minutes: Mapped[Decimal] = mapped_column("micro_minutes", Minutes())
    ended_at: Mapped[datetime]
    metered_at: Mapped[datetime]


class UsageMonthly(Base):
    """One application's usage in one UTC calendar month: the sums of its usage_items, kept up to date in
    the transaction that writes them. Minutes are stored as millionths (``storage/types.Minutes``)."""

    __tablename__ = "usage_monthly"

    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    participants: Mapped[int] = mapped_column(Integer, default=0)
    participant_minutes: Mapped[Decimal] = mapped_column("participant_micro_minutes", Minutes(), default=0)
    recordings: Mapped[int] = mapped_column(Integer, default=0)
    recording_minutes: Mapped[Decimal] = mapped_column("recording_micro_minutes", Minutes(), default=0)
    updated_at: Mapped[datetime]

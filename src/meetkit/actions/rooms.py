"""Room actions: create, update, rotate the host token, delete. An update, a rotation or a deletion
is announced on the bus once it has committed (``RoomUpdated``, ``RoomEnded``), so a meeting running in
the room follows."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..bus import RoomEnded, RoomUpdated, publish_on_commit
from ..container import Container
from ..domain import lifecycle
from ..domain import rooms as rules
from ..errors import BadRequest, Conflict, Forbidden, InputValidationError, NotFound
from ..storage import repositories as repo
from ..storage import tables as t
from .inputs import CreateRoomIn, RoomUpdateDetails, UpdateRoomIn

_MEETING_CODE_ATTEMPTS = 8

# Room creation is the API's hot path: one prepared Core insert instead of the ORM's unit of work
# (which rebuilds and re-keys the statement for every row).
# The room limit is checked in the same statement: INSERT ... SELECT ... WHERE <live rooms> < limit.
# No row comes back when the application is at its limit.
_ROOMS = t.Base.metadata.tables["rooms"]
_ROOM_COLUMNS = [c for c in _ROOMS.columns if c.name not in ("serial", "owner_epoch")]  # those two: server defaults
_LIVE_ROOMS = (
    select(func.count())
    .select_from(_ROOMS)
    .where(_ROOMS.c.application_id == bindparam("application_id"), _ROOMS.c.is_available.is_(True))
    .scalar_subquery()
)
_INSERT_ROOM = (
    insert(_ROOMS)
    .from_select(
        [c.name for c in _ROOM_COLUMNS],
        select(*[bindparam(c.name, type_=c.type) for c in _ROOM_COLUMNS]).where(_LIVE_ROOMS < bindparam("room_limit")),
    )
    .returning(_ROOMS.c.serial)
)
_ROOM_COLUMN = {"meta": "metadata"}


def _options(defaults: dict[str, Any], given: Any) -> dict[str, Any]:
    if given is None:
        return dict(defaults)
    return rules.merge_options(defaults, given.model_dump(exclude_none=True))


async def _check_theme(db: AsyncSession, application_id: str, theme_id: str | None) -> None:
    if theme_id is not None and await repo.get_theme(db, application_id, theme_id) is None:
        raise NotFound(f"could not find theme {theme_id}")


async def do_create_room(c: Container, application_id: str, body: CreateRoomIn) -> t.Room:
    now = c.clock.now()
    room_type = rules.RoomType(body.type or "instant")
    if room_type is rules.RoomType.LONG_TERM:
        if body.expires_at is None:
            raise BadRequest('"expires_at" is required for a long_term room')
        try:
            rules.check_long_term_expiry(body.expires_at, now)
        except rules.RoomRuleError as exc:
            raise BadRequest(str(exc)) from exc
        expires_at = body.expires_at
    else:
        # An instant room's expiry is the server's to keep: a given expires_at is ignored.
        expires_at = rules.instant_expiry(now, c.settings.instant_room_join_window)
    values = dict(
        id=str(uuid.uuid4()),
        application_id=application_id,
        display_name=body.display_name,
        meta=body.metadata,
        type=room_type.value,
        expires_at=expires_at,
        expire_after_use=bool(body.expire_after_use) if room_type is rules.RoomType.LONG_TERM else False,
        theme_id=body.theme_id,
        join_approval_level=body.join_approval_level or rules.JoinApprovalLevel.NONE.value,
        recording_options=_options(rules.DEFAULT_RECORDING_OPTIONS, body.recording_options),
        initial_join_options=_options(rules.DEFAULT_INITIAL_JOIN_OPTIONS, body.initial_join_options),
        callback_urls=_options(rules.DEFAULT_CALLBACK_URLS, body.callback_urls),
        available_features=_options(rules.DEFAULT_AVAILABLE_FEATURES, body.available_features),
        ui_settings=_options(rules.DEFAULT_UI_SETTINGS, body.ui_settings),
        host_token=rules.new_host_token(),
        is_available=True,
        created_at=now,
        expiry_due_at=expires_at,
        expired_at=None,
    )
    for _attempt in range(_MEETING_CODE_ATTEMPTS):
        try:
            async with c.sessions.begin() as db:
                await _check_theme(db, application_id, body.theme_id)
                code = rules.new_meeting_code()
                params: dict[str, Any] = {_ROOM_COLUMN.get(k, k): v for k, v in values.items()}
                params.update(meeting_code=code, room_limit=c.settings.max_rooms_per_application)
                serial = (await db.execute(_INSERT_ROOM, params)).scalar_one_or_none()
                if serial is None:
                    limit = c.settings.max_rooms_per_application
                    raise Forbidden(f"Maximum number of rooms ({limit}) reached for this application")
            return t.Room(serial=serial, meeting_code=code, **values)
        except IntegrityError:
            # A meeting code collided with a live room's: draw another.
            continue
    raise BadRequest("could not allocate a unique meeting code; try again")


async def get_room(c: Container, application_id: str, room_id: str) -> t.Room:
    async with c.read_sessions() as db:
        room = await repo.get_room(db, application_id, room_id)
    if room is None:
        raise NotFound(f"could not find room {room_id}")
    return room


def _update_details(body: UpdateRoomIn) -> RoomUpdateDetails:
    details = body.update_details if body.update_details is not None else body.update_options
    if details is None or not details.model_fields_set:
        raise InputValidationError('"update_details" must have at least 1 key')
    assert isinstance(details, RoomUpdateDetails)
    return details


async def do_update_room(c: Container, application_id: str, room_id: str, body: UpdateRoomIn) -> t.Room:
    details = _update_details(body)
    given = details.model_fields_set
    now = c.clock.now()
    async with c.sessions.begin() as db:
        room = await repo.get_room(db, application_id, room_id)
        if room is None or not room.is_available:
            raise NotFound(f"could not find room {room_id}")
        if room.type != rules.RoomType.LONG_TERM.value:
            raise BadRequest(f"The room with id: {room_id} could not be updated because of its type: temporary")
        if "display_name" in given and details.display_name is not None:
            room.display_name = details.display_name
        if "metadata" in given:
            room.meta = details.metadata
        if "expires_at" in given and details.expires_at is not None:
            try:
                rules.check_long_term_expiry(details.expires_at, now)
            except rules.RoomRuleError as exc:
                raise BadRequest(str(exc)) from exc
            room.expires_at = details.expires_at
        if "expire_after_use" in given and details.expire_after_use is not None:
            room.expire_after_use = details.expire_after_use
        if given & {"expires_at", "expire_after_use"}:
            # The lifecycle timer follows, with what the sessions so far say (expire_after_use).
            last = await db.scalar(select(t.Session).where(t.Session.room_id == room.id)
                                   .order_by(t.Session.started_at.desc()).limit(1))
            running = last is not None and last.ended_at is None
            state = lifecycle.RoomState(
                type=rules.RoomType.LONG_TERM, created_at=room.created_at, expires_at=room.expires_at,
                expire_after_use=room.expire_after_use, ever_joined=last is not None, session_running=running,
                last_session_ended_at=None if last is None or running else last.ended_at)
            room.expiry_due_at = lifecycle.expiry_time(state, lifecycle.Windows(
                join_window=timedelta(seconds=c.settings.instant_room_join_window),
                idle_window=timedelta(seconds=c.settings.room_idle_window)))
        if "theme_id" in given:
            await _check_theme(db, application_id, details.theme_id)
            room.theme_id = details.theme_id
        if "join_approval_level" in given and details.join_approval_level is not None:
            room.join_approval_level = details.join_approval_level
        for name in ("recording_options", "initial_join_options", "callback_urls", "available_features", "ui_settings"):
            value = getattr(details, name)
            if name in given and value is not None:
                setattr(room, name, rules.merge_options(getattr(room, name), value.model_dump(exclude_unset=True)))
        publish_on_commit(db, c.bus, RoomUpdated(room.id))
    return room


async def do_rotate_host_token(c: Container, application_id: str, room_id: str) -> t.Room:
    """A new host token for the room: the old host link stops making its holder the host at once,
    in a meeting already running too (``RoomUpdated``: the live room reads the new token). Hosts
    already in the meeting stay hosts; ending the meeting (deleting the room) is the hard stop."""
    async with c.sessions.begin() as db:
        room = await repo.get_room(db, application_id, room_id)
        if room is None or not room.is_available:
            raise NotFound(f"could not find room {room_id}")
        room.host_token = rules.new_host_token()
    # Published after the commit and awaited (not handed to the bus's own task): when the caller gets
    # the new link, the running meeting already refuses the old one.
    await c.bus.publish(RoomUpdated(room.id))
    return room


async def do_delete_room(c: Container, application_id: str, room_id: str) -> None:
    """An extension of the contract (the 2021 draft had it): the room and its sessions go away."""
    async with c.sessions.begin() as db:
        room = await repo.get_room(db, application_id, room_id)
        if room is None:
            raise NotFound(f"could not find room {room_id}")
        recordings = await db.scalar(
            select(func.count()).select_from(t.Recording).where(t.Recording.room_id == room_id))
        if recordings:
            raise Conflict(f"Room {room_id} has {recordings} recording(s): delete them first")
        # The whiteboards' images and the videos uploaded to watch together go with the room; their rows
        # go with its sessions (ON DELETE CASCADE), their bytes from the object store after the commit.
        keys: list[str] = []
        for files in (t.BoardFile, t.WatchFile):
            keys += (await db.scalars(select(files.storage_key).join(t.Session, t.Session.id == files.session_id)
                                      .where(t.Session.room_id == room_id))).all()
        await db.delete(room)
        publish_on_commit(db, c.bus, RoomEnded(room_id, "deleted"))  # anyone still in it is told the meeting ended
    for key in keys:
        await asyncio.to_thread(c.objects.delete, key)

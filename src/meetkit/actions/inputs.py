"""What the actions take: the room, theme and application inputs, checked on the way in (unknown
fields ignored, text both databases can store). The REST contract's request bodies are these models
(api/schemas.py re-exports them), so the API and the CLI hand actions the same types."""

from __future__ import annotations

import json as jsonlib
import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from ..domain.dates import BadDate, parse_date
from ..domain.rooms import RoomRuleError, normalize_language
from ..domain.themes import MAIN_COLOR_RE, SHORT_COMPANY_URL_RE, short_company_url_problem


def _uuid_str(v: str) -> str:
    try:
        return str(uuid.UUID(v))
    except ValueError as exc:
        raise ValueError("must be a UUID") from exc


def _date(v: object) -> datetime:
    try:
        return parse_date(v)
    except BadDate as exc:
        raise ValueError(str(exc)) from exc


def _metadata(v: object) -> object:
    """The Node SDK's own example sends metadata as an object: keep it, as compact JSON text."""
    if isinstance(v, dict | list):
        return jsonlib.dumps(v, separators=(",", ":"), ensure_ascii=False)
    return v


def _language(v: str) -> str:
    try:
        return normalize_language(v)
    except RoomRuleError as exc:
        raise ValueError(str(exc)) from exc


UUIDStr = Annotated[str, StringConstraints(max_length=64), AfterValidator(_uuid_str)]
DateIn = Annotated[
    datetime,
    BeforeValidator(_date),
    WithJsonSchema({"type": "string", "format": "date-time", "description": "ISO 8601; no zone means UTC"}),
]
CallbackUrl = Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://\S+$")]
MainColor = Annotated[str, StringConstraints(max_length=7, pattern=MAIN_COLOR_RE.pattern)]
def _short_url(v: str) -> str:
    problem = short_company_url_problem(v)
    if problem is not None:
        raise ValueError(problem)
    return v


ShortCompanyUrl = Annotated[
    str,
    StringConstraints(max_length=128),
    AfterValidator(_short_url),
    WithJsonSchema({"type": "string", "maxLength": 128, "pattern": SHORT_COMPANY_URL_RE.pattern,
                    "description": "Unique without regard to case; not one of meetkit's own paths "
                    "(meetings, v1, beta, _meetkit, static, assets, uploads, docs, health, metrics, ...; "
                    "any case): those are refused with 400."}),
]
Text200 = Annotated[str, StringConstraints(max_length=200)]
Metadata = Annotated[str, BeforeValidator(_metadata), StringConstraints(max_length=500)]
Language = Annotated[str, StringConstraints(max_length=16), AfterValidator(_language)]


def _storable(value: object, where: str) -> None:
    """Text that both databases can keep: no NUL characters, no lone surrogates. Nested input models
    check themselves (they are ``In`` too), so only strings and lists of strings are looked at here."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{where} must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{where} must be valid Unicode text") from exc
    elif isinstance(value, list | tuple):
        for item in value:
            _storable(item, where)


class In(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="after")
    def _text_is_storable(self) -> Self:
        for name in type(self).model_fields:
            _storable(getattr(self, name), name)
        return self


class RecordingOptionsIn(In):
    auto_record: bool | None = None
    record_only_owner: bool | None = None


class InitialJoinOptionsIn(In):
    microphone_state: Literal["default", "on", "off"] | None = None


class CallbackUrlsIn(In):
    rooms_callback_url: CallbackUrl | None = None
    sessions_callback_url: CallbackUrl | None = None
    recordings_callback_url: CallbackUrl | None = None


class AvailableFeaturesIn(In):
    is_recording_available: bool | None = None
    is_chat_available: bool | None = None
    is_whiteboard_available: bool | None = None
    is_locale_switcher_available: bool | None = None
    is_captions_available: bool | None = None


class UiSettingsIn(In):
    language: Language | None = None


JoinApproval = Literal["none", "after_owner_only", "explicit_approval"]


class CreateRoomIn(In):
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    metadata: Metadata | None = None
    type: Literal["instant", "long_term"] | None = None
    expires_at: DateIn | None = None
    expire_after_use: bool | None = None
    theme_id: UUIDStr | None = None
    join_approval_level: JoinApproval | None = None
    recording_options: RecordingOptionsIn | None = None
    initial_join_options: InitialJoinOptionsIn | None = None
    callback_urls: CallbackUrlsIn | None = None
    available_features: AvailableFeaturesIn | None = None
    ui_settings: UiSettingsIn | None = None


class RoomUpdateDetails(In):
    """What ``update_details`` (or the Node SDK's ``update_options``) may change."""

    display_name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    metadata: Metadata | None = None
    expires_at: DateIn | None = None
    expire_after_use: bool | None = None
    theme_id: UUIDStr | None = None
    join_approval_level: JoinApproval | None = None
    recording_options: RecordingOptionsIn | None = None
    initial_join_options: InitialJoinOptionsIn | None = None
    callback_urls: CallbackUrlsIn | None = None
    available_features: AvailableFeaturesIn | None = None
    ui_settings: UiSettingsIn | None = None


class UpdateRoomIn(In):
    update_details: RoomUpdateDetails | None = None
    update_options: RoomUpdateDetails | None = None


class CreateThemeIn(In):
    theme_name: Text200 | None = None
    main_color: MainColor
    brand_text: Text200
    short_company_url: ShortCompanyUrl | None = None


class ThemeUpdateDetails(In):
    theme_name: Text200 | None = None
    main_color: MainColor | None = None
    brand_text: Text200 | None = None
    short_company_url: ShortCompanyUrl | None = None


class UpdateThemeIn(In):
    update_details: ThemeUpdateDetails = Field(default_factory=ThemeUpdateDetails)


class LogoKeyObject(In):
    key: Annotated[str, StringConstraints(max_length=512)]


class FinalizeLogosIn(In):
    keys: Annotated[list[Annotated[str, StringConstraints(max_length=512)] | LogoKeyObject], Field(max_length=3)]

    def key_strings(self) -> list[str]:
        return [k if isinstance(k, str) else k.key for k in self.keys]


class ApplicationUpdateDetails(In):
    default_theme_id: UUIDStr | None = None


class UpdateApplicationIn(In):
    update_details: ApplicationUpdateDetails = Field(default_factory=ApplicationUpdateDetails)


class EmbedOriginsIn(In):
    """``PUT /applications/embed-origins``: ``null`` lets any site frame the meetings, ``[]`` none."""

    embed_origins: Annotated[list[Annotated[str, Field(max_length=255)]], Field(max_length=20)] | None = Field(
        description="scheme://host[:port] origins (https://*.example.com for subdomains); null: any site")

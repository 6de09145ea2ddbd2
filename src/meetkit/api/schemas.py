"""Wire formats of the REST contract: request bodies (unknown fields ignored) and response bodies."""

from __future__ import annotations

import json as jsonlib
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

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

from ..domain.dates import BadDate, format_date, parse_date
from ..domain.rooms import RoomRuleError, normalize_language
from ..domain.themes import MAIN_COLOR_RE, SHORT_COMPANY_URL_RE


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
    if not SHORT_COMPANY_URL_RE.fullmatch(v):
        raise ValueError("may hold only letters, digits, _ ~ - and at least one letter, _ ~ or -")
    return v


ShortCompanyUrl = Annotated[
    str,
    StringConstraints(max_length=128),
    AfterValidator(_short_url),
    WithJsonSchema({"type": "string", "maxLength": 128, "pattern": SHORT_COMPANY_URL_RE.pattern}),
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


# ---- responses ---------------------------------------------------------------------------------------


class Href(BaseModel):
    href: str


class RoomLinks(BaseModel):
    host_url: Href
    guest_url: Href


class RecordingOptionsOut(BaseModel):
    auto_record: bool
    record_only_owner: bool


class InitialJoinOptionsOut(BaseModel):
    microphone_state: str


class CallbackUrlsOut(BaseModel):
    rooms_callback_url: str | None
    sessions_callback_url: str | None
    recordings_callback_url: str | None


class AvailableFeaturesOut(BaseModel):
    is_recording_available: bool
    is_chat_available: bool
    is_whiteboard_available: bool
    is_locale_switcher_available: bool
    is_captions_available: bool


class UiSettingsOut(BaseModel):
    language: str


class RoomOut(BaseModel):
    id: str
    display_name: str
    metadata: str | None
    type: Literal["instant", "long_term"]
    expires_at: str
    expire_after_use: bool
    recording_options: RecordingOptionsOut
    meeting_code: str
    is_available: bool
    theme_id: str | None
    created_at: str
    join_approval_level: str
    initial_join_options: InitialJoinOptionsOut
    callback_urls: CallbackUrlsOut
    available_features: AvailableFeaturesOut
    ui_settings: UiSettingsOut
    links: RoomLinks = Field(serialization_alias="_links", validation_alias="links")


class PageLinks(BaseModel):
    first: Href
    self: Href
    next: Href | None = None
    prev: Href | None = None


class RoomPageOut(BaseModel):
    page_size: int
    total_items: int
    embedded: list[RoomOut] = Field(serialization_alias="_embedded")
    links: PageLinks = Field(serialization_alias="_links")


class ThemeOut(BaseModel):
    theme_id: str
    theme_name: str
    domain: str = "VCP"
    account_id: str
    application_id: str
    main_color: str
    short_company_url: str | None
    brand_text: str
    brand_image_colored: str | None
    brand_image_white: str | None
    branded_favicon: str | None
    brand_image_colored_url: str | None
    brand_image_white_url: str | None
    branded_favicon_url: str | None


class UploadFields(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    content_type: str = Field(serialization_alias="Content-Type", alias="Content-Type")
    key: str
    logoType: Literal["white", "colored", "favicon"]
    bucket: str
    x_amz_algorithm: str = Field(alias="X-Amz-Algorithm")
    x_amz_credential: str = Field(alias="X-Amz-Credential")
    x_amz_date: str = Field(alias="X-Amz-Date")
    x_amz_security_token: str = Field(alias="X-Amz-Security-Token")
    policy: str = Field(alias="Policy")
    x_amz_signature: str = Field(alias="X-Amz-Signature")


class UploadUrlOut(BaseModel):
    url: str
    fields: UploadFields


class ApplicationOut(BaseModel):
    application_id: str
    account_id: str
    default_theme_id: str | None


class RecordingLinks(BaseModel):
    url: Href


class RecordingOut(BaseModel):
    id: str
    session_id: str
    started_at: str
    ended_at: str | None
    status: Literal["started", "stopped", "paused", "uploaded", "failed"]
    links: RecordingLinks = Field(serialization_alias="_links")


class RecordingList(BaseModel):
    recordings: list[RecordingOut]


class SessionRecordingsOut(BaseModel):
    embedded: RecordingList = Field(serialization_alias="_embedded")


class DialInNumberOut(BaseModel):
    number: str
    locale: str
    display_name: str


class ErrorOut(BaseModel):
    message: str
    name: str
    status: int
    errors: list[Any] | None = None


def iso(value: datetime | None) -> str | None:
    return format_date(value) if value is not None else None


# --- usage (a meetkit extension of the contract; docs/pricing.md) ---
DecimalText = Annotated[str, Field(pattern=r"^\d+(\.\d+)?$", description="A decimal number as a string (exact).")]


class UsageTierOut(BaseModel):
    above: int = Field(description="The tier prices the month's minutes above this number ...")
    up_to: int | None = Field(description="... up to and including this number; null: no upper limit.")
    minutes: DecimalText = Field(description="Minutes of the month priced in this tier.")
    unit_price: DecimalText = Field(description="Price of one minute in this tier.")
    amount: DecimalText = Field(description="minutes times unit_price, rounded to cents.")


class UsageKindOut(BaseModel):
    count: int = Field(description="Participants (one per join of a session) or recordings metered.")
    minutes: DecimalText = Field(description="Minutes of the month.")
    amount: DecimalText = Field(description="Their cost, rounded to cents.")
    tiers: list[UsageTierOut] = Field(description="One line per configured tier, unused tiers with 0 minutes.")


class UsageOut(BaseModel):
    application_id: str
    month: str = Field(description="YYYY-MM: the UTC calendar month.")
    period_start: str = Field(description="The month's first instant (UTC), inclusive.")
    period_end: str = Field(description="The next month's first instant (UTC), exclusive.")
    currency: str = Field(description="ISO 4217 code of every amount.")
    tier_mode: Literal["graduated", "volume"]
    rounding: Literal["ceil", "exact"] = Field(description="How each participant's and recording's minutes are "
                                               "rounded when metered.")
    sessions: int = Field(description="Sessions that ended in the month.")
    participants: UsageKindOut = Field(description="Participant minutes.")
    recordings: UsageKindOut = Field(description="Recording minutes.")
    total: DecimalText = Field(description="Participant and recording cost: the exact sum, rounded to cents.")
    updated_at: str | None = Field(description="When usage of this month was last metered; null: none yet.")

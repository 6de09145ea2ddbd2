"""Wire formats of the REST contract: request bodies (unknown fields ignored) and response bodies.

The request bodies are the actions' own input types (actions/inputs.py), re-exported here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..actions.inputs import (
    ApplicationUpdateDetails,
    AvailableFeaturesIn,
    CallbackUrlsIn,
    CreateRoomIn,
    CreateThemeIn,
    EmbedOriginsIn,
    FinalizeLogosIn,
    In,
    InitialJoinOptionsIn,
    LogoKeyObject,
    RecordingOptionsIn,
    RoomUpdateDetails,
    ThemeUpdateDetails,
    UiSettingsIn,
    UpdateApplicationIn,
    UpdateRoomIn,
    UpdateThemeIn,
)
from ..domain.dates import format_date

# The request bodies: the actions' input types, part of this module's (the contract's) names.
__all__ = [
    "ApplicationUpdateDetails",
    "AvailableFeaturesIn",
    "CallbackUrlsIn",
    "CreateRoomIn",
    "CreateThemeIn",
    "EmbedOriginsIn",
    "FinalizeLogosIn",
    "In",
    "InitialJoinOptionsIn",
    "LogoKeyObject",
    "RecordingOptionsIn",
    "RoomUpdateDetails",
    "ThemeUpdateDetails",
    "UiSettingsIn",
    "UpdateApplicationIn",
    "UpdateRoomIn",
    "UpdateThemeIn",
]


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


class EmbedOriginsOut(BaseModel):
    application_id: str
    embed_origins: list[str] | None = Field(description="null: any site may frame the meetings (no list set)")


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

"""Typed settings, read from the environment (prefix ``MEETKIT_``) or a ``.env`` file.

Secrets are never defaulted to a constant: when ``MEETKIT_SECRET_KEY`` is not given, a random one is
generated once and kept in the data folder, so signed links survive a restart.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_WEAK_SECRETS = {"", "changeme", "change-me", "secret", "changethis"}


class DialInNumber(BaseModel):
    number: str
    locale: str
    display_name: str


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEETKIT_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default: SQLite file meetkit.db in the data folder.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Base URL of this server as browsers reach it; host and guest links start with it.",
    )
    secret_key: str | None = Field(default=None, description="Signs upload policies and download links.")

    # Limits of the contract, configurable.
    max_rooms_per_application: int = 1000
    max_themes_per_application: int = 1000
    max_page_size: int = 1000

    # Room lifecycle windows (seconds).
    instant_room_join_window: int = Field(default=600, ge=1, description="An instant room nobody joins expires.")
    room_idle_window: int = Field(default=600, ge=1, description="After the last session ends (instant rooms, "
                                  "expire_after_use).")
    expired_room_retention: int = Field(default=30 * 24 * 3600, ge=0, description="Then an expired room is deleted.")
    lifecycle_poll_interval: float = Field(default=1.0, gt=0)

    # Logo uploads.
    upload_policy_ttl: int = 3600
    max_upload_bytes: int = 5 * 1024 * 1024
    max_logo_bytes: int = 1024 * 1024

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

"""The one settings object. Built at the edge (CLI, SDK constructor, eval run) and passed down.

Explicit constructor arguments win over environment variables (prefix ``FACEGATE_``); the Gemini key is
also read from ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from tools.settings import EngineSettings, absolute_path


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "operator"


class Settings(EngineSettings):
    """All of facegate's settings: the face engine's plus the agent's."""

    model_config = SettingsConfigDict(env_prefix="FACEGATE_", extra="ignore", validate_default=True)

    db_path: Path | None = Field(None, description="SQLite database; default <home>/facegate.db.")
    checkpoint_path: Path | None = Field(None, description="LangGraph checkpoints; default <home>/threads.db.")
    # PostgreSQL instead of the two SQLite files: consents, subjects, templates, nonces, the audit chain AND the
    # conversation threads (LangGraph's PostgresSaver) in one database that several workers share. A secret:
    # the URL may hold the password.
    database_url: SecretStr | None = Field(
        None, description="postgresql://user:password@host:port/dbname; unset: SQLite in the home."
    )
    database_pool_min: int = Field(1, ge=0, le=100, description="PostgreSQL connections kept open per process.")
    database_pool_max: int = Field(4, ge=1, le=100, description="PostgreSQL connections at most, per pool.")
    database_timeout_s: float = Field(10.0, gt=0, description="Wait for the server, and for a pooled connection.")
    policy_file: Path | None = Field(None, description="Purpose catalogue and policy; default the shipped one.")
    api_keys_file: Path | None = Field(None, description="API keys (hashes and roles); default <home>/api_keys.json.")
    reasoner: Literal["auto", "offline", "gemini"] = "auto"
    gemini_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("FACEGATE_GEMINI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")
    )
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str | None = Field(None, description="Override the API endpoint (tests, proxies).")
    gemini_timeout_s: float = Field(60.0, gt=0)
    gemini_max_retries: int = Field(4, ge=0, le=10)
    gemini_max_backoff_s: float = Field(30.0, gt=0)
    actor: str = Field(default_factory=_default_actor, description="Who is operating; recorded in the audit log.")
    max_turn_steps: int = Field(8, ge=1, description="Tool rounds allowed in one turn before the agent stops.")
    # MCP over streamable HTTP (facegate mcp serve --transport http): calls still run one at a time, so more
    # sessions only queue; the cap bounds what waiting clients can hold (each request up to two images' base64).
    mcp_http_max_sessions: int = Field(
        8, ge=1, le=1000, description="MCP over HTTP: sessions open at once, and requests being served at once."
    )
    log_level: str = "WARNING"
    log_json: bool | None = Field(None, description="JSON logs; default: JSON when stderr is not a terminal.")

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        if not value.get_secret_value().strip():
            return None  # FACEGATE_DATABASE_URL= (set but empty) means unset: SQLite
        if not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL (unset it for the embedded SQLite database)")
        return value

    @field_validator("db_path", "checkpoint_path", "api_keys_file", mode="before")
    @classmethod
    def _paths(cls, value: object, info: ValidationInfo) -> object:
        return absolute_path(value, name=str(info.field_name))

    @property
    def database_backend(self) -> Literal["sqlite", "postgres"]:
        return "postgres" if self.database_url is not None else "sqlite"

    @property
    def resolved_db_path(self) -> Path:
        return self.db_path or self.home / "facegate.db"

    @property
    def resolved_checkpoint_path(self) -> Path:
        return self.checkpoint_path or self.home / "threads.db"

    @property
    def resolved_api_keys_file(self) -> Path:
        return self.api_keys_file or self.home / "api_keys.json"

    @property
    def effective_reasoner(self) -> Literal["offline", "gemini"]:
        """``auto`` means Gemini when a key is set, else the embedded offline reasoner."""
        if self.reasoner == "auto":
            return "gemini" if self.gemini_api_key is not None else "offline"
        return self.reasoner

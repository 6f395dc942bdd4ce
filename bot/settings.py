"""Process settings from the environment (prefix ``MOODCHECK_``); secrets only come from here."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,100}")


class SettingsError(ValueError):
    """A missing or invalid setting, described in one line that names it."""


class Settings(BaseSettings):
    """Everything the process reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="MOODCHECK_", frozen=True, extra="ignore")

    telegram_token: SecretStr | None = None
    """The bot token from @BotFather. Required to run the bot."""
    database_url: str = "sqlite+aiosqlite:///moodcheck.db"
    """SQLAlchemy URL; the default is a SQLite file in the working directory."""
    telegram_base_url: str = "https://api.telegram.org/bot"
    """Bot API server (a self-hosted one, or the sandbox); the token is appended."""
    config: Path = Path("moodcheck.toml")
    """The TOML file that declares the cohorts."""
    bot_username: str | None = None
    """The bot's @username without the @, for invite links (asked of Telegram when unset)."""
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")

    @field_validator("telegram_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("bot_username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{3,31}", value):
            raise ValueError("must be a Telegram username without the @")
        return value

    def token(self) -> str:
        """Return the bot token, or raise SettingsError naming the variable."""
        if self.telegram_token is None or not self.telegram_token.get_secret_value():
            raise SettingsError(
                "MOODCHECK_TELEGRAM_TOKEN is missing: set it to the token from @BotFather"
            )
        token = self.telegram_token.get_secret_value()
        if not _TOKEN.fullmatch(token):
            raise SettingsError(
                "MOODCHECK_TELEGRAM_TOKEN does not look like a bot token (digits:letters)"
            )
        return token


def load_settings() -> Settings:
    """Read the settings; raise SettingsError with one line naming the first bad setting."""
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "MOODCHECK_" + str(error["loc"][0]).upper() if error["loc"] else "MOODCHECK_*"
        raise SettingsError(f"{name} is invalid: {error['msg']}") from None

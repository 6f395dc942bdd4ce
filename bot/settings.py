"""Process settings from the environment (prefix ``MOODCHECK_``); secrets only come from here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,100}")
# Telegram's rule for setWebhook's secret_token.
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_LISTEN = "0.0.0.0:8080"
"""A worker behind a load balancer listens on every interface."""


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
    log_format: Literal["text", "json"] = "text"
    """``json``: one object per line (ts, level, logger, message, safe fields)."""
    listen: str | None = None
    """``host:port`` of the web server (webhook, /healthz, /metrics); off in polling when unset."""
    webhook_url: str | None = None
    """Public HTTPS URL Telegram posts updates to (``moodcheck run --webhook``)."""
    webhook_secret: SecretStr | None = None
    """Sent by Telegram in ``X-Telegram-Bot-Api-Secret-Token``; required with --webhook."""
    webhook_path: str | None = None
    """Path the web server takes updates on; default: the path of ``webhook_url``."""
    webhook_max_connections: int = Field(default=40, ge=1, le=100)
    health_max_outbox_lag: float = Field(default=300.0, ge=0)
    """Seconds an urgent due message may wait before /healthz says 503; 0 turns it off."""
    data_keys: SecretStr | None = None
    """The data keys that encrypt patients' text at rest, newest first, separated by commas
    (``moodcheck keys new`` makes one); when set, the key file is not read (bot/data_keys.py)."""
    data_key_file: Path | None = None
    """A file of data keys, one a line, newest first; default for a SQLite database: the
    database's path with ``.keys`` added."""
    max_messages_per_second: int = Field(default=30, ge=1)
    """The bot token's overall send rate, shared by all workers (Telegram: ~30; benchmarks
    set more to measure the bot's own path)."""
    delivery_window: int | None = Field(default=None, ge=2, le=512)
    """Messages the delivery worker has in flight at once: at most this many can go twice
    after a crash, and at most this many per answer time go out (docs/operations.md). Unset:
    16, or 64 with ``paid_broadcast`` (``window``)."""
    paid_broadcast: bool = False
    """Send scheduled prompts with ``allow_paid_broadcast``: Telegram lets them go beyond
    the free rate, up to ``paid_messages_per_second``, and charges Stars for each
    (docs/operations.md, "Paid broadcast")."""
    paid_messages_per_second: int = Field(default=1000, ge=1, le=1000)
    """With ``paid_broadcast``: the overall rate for prompts sent so (Telegram: 1,000)."""

    @property
    def window(self) -> int:
        """The delivery window in use. With paid broadcast, 64: at 1,000 messages a second a
        window of 16 waits on the database's round trips (docs/performance.md, "Delivery
        against the floor, paid mode and a loaded core"); a crash can then send up to 64
        prompts twice, the same fraction of a second's sending as 16 at the free rate."""
        if self.delivery_window is not None:
            return self.delivery_window
        return 64 if self.paid_broadcast else 16

    @field_validator("telegram_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        # Telegram posts only to HTTPS; plain HTTP is for a Bot API server on this machine.
        local_http = parts.scheme == "http" and parts.hostname in _LOOPBACK
        if not (parts.scheme == "https" or local_http) or not parts.hostname:
            raise ValueError("must be an https:// URL")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("webhook_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"/[A-Za-z0-9_./-]*", value):
            raise ValueError("must be a URL path starting with /")
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

    def webhook(self) -> Webhook:
        """Return what webhook mode needs, or raise SettingsError naming what is missing."""
        if self.webhook_url is None:
            raise SettingsError("MOODCHECK_WEBHOOK_URL is missing: the public https:// URL")
        if self.webhook_secret is None or not self.webhook_secret.get_secret_value():
            raise SettingsError(
                "MOODCHECK_WEBHOOK_SECRET is missing: 1-256 characters of A-Z, a-z, 0-9, _ and -"
            )
        return Webhook(
            url=self.webhook_url,
            secret=self.webhook_secret.get_secret_value(),
            path=self.webhook_path or urlsplit(self.webhook_url).path or "/",
            max_connections=self.webhook_max_connections,
        )

    def listen_address(self, *, webhook: bool) -> tuple[str, int] | None:
        """Where the web server listens: always with a webhook, in polling only when set."""
        if self.listen is None and not webhook:
            return None
        return parse_listen(self.listen or DEFAULT_LISTEN)


@dataclass(frozen=True, slots=True)
class Webhook:
    """Webhook mode's settings, checked."""

    url: str
    secret: str
    path: str
    max_connections: int

    def __repr__(self) -> str:
        return f"Webhook(url={self.url!r}, path={self.path!r}, secret=***)"


def parse_listen(value: str) -> tuple[str, int]:
    """Split ``host:port`` (``[::1]:8080`` for IPv6); raise ValueError when malformed."""
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("must be host:port, e.g. 0.0.0.0:8080")
    return host, int(port)


def load_settings() -> Settings:
    """Read the settings; raise SettingsError with one line naming the first bad setting."""
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "MOODCHECK_" + str(error["loc"][0]).upper() if error["loc"] else "MOODCHECK_*"
        raise SettingsError(f"{name} is invalid: {error['msg']}") from None

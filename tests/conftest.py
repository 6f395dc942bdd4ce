"""Fixtures shared by every test: clocks, configuration and real databases."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import AppConfig, load_config
from bot.domain.clock import ManualClock
from tests.support.databases import (
    POSTGRES_SKIP,
    postgres_database,
    postgres_empty,
    postgres_url,
    sqlite_copy,
    sqlite_template,
)

# The same opt-in bot.app.build makes (PTB's timedelta durations): tests build RetryAfter too.
os.environ.setdefault("PTB_TIMEDELTA", "true")

CONFIG = """
[[cohort]]
name = "clinic-a"
provider_chat_id = -100111
coverage = "24/7"
timezone = "America/New_York"
locale = "en"
region = "US"
checkin_time = "09:00"

[[cohort]]
name = "clinic-b"
provider_chat_id = -100222
coverage = "24/7"
timezone = "Europe/London"
locale = "en"
region = "UK"
checkin_time = "20:30"
invite_valid_days = 2

[[cohort]]
name = "clinic-c"
provider_chat_id = -100333
coverage = "24/7"
timezone = "UTC"
locale = "en"
region = "EU"
questionnaire = "daily_note"

[[cohort]]
name = "clinic-d"
provider_chat_id = -100444
coverage = "24/7"
timezone = "UTC"
locale = "en"
region = "UK"
weekly_instruments = ["phq9", "gad7"]
instrument_weekday = "mon"
pcl5_every_weeks = 4
"""


@pytest.fixture(name="config_path")
def fx_config_path(tmp_path: Path) -> Path:
    path = tmp_path / "moodcheck.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(name="config")
def fx_config(config_path: Path) -> AppConfig:
    return load_config(config_path)


@pytest.fixture(name="clock")
def fx_clock() -> ManualClock:
    # A Monday morning in New York (14:00 UTC = 09:00 EST).
    return ManualClock(datetime(2026, 1, 12, 13, 0, tzinfo=UTC))


@pytest.fixture(scope="session", name="sqlite_template_file")
def fx_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with sqlite_template(tmp_path_factory.mktemp("template")) as path:
        yield path


@pytest.fixture(scope="session", name="postgres_session_url")
def fx_postgres_session_url() -> Iterator[str | None]:
    base = postgres_url()
    if base is None:
        yield None
        return
    with postgres_database(base) as url:
        yield url


@pytest.fixture(
    name="db_url", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def fx_db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template_file: Path,
    postgres_session_url: str | None,
) -> str:
    """A real, migrated, empty database: each test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return sqlite_copy(sqlite_template_file, tmp_path)
    if postgres_session_url is None:
        pytest.skip(POSTGRES_SKIP)
    postgres_empty(postgres_session_url)
    return postgres_session_url

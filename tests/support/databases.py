"""Real databases for tests: a migrated SQLite file per test, and PostgreSQL when configured.

SQLite: the migrations run once per session into a template file; each test gets a copy.
PostgreSQL: one throw-away database per session (created from MOODCHECK_TEST_POSTGRES_URL,
migrated once, dropped at the end); each test starts from empty tables.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from storage.migrate import upgrade
from storage.models import Base

POSTGRES_ENV = "MOODCHECK_TEST_POSTGRES_URL"
POSTGRES_SKIP = f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql://postgres@127.0.0.1/test)"


def postgres_url() -> str | None:
    """Return the configured PostgreSQL URL, if any."""
    return os.environ.get(POSTGRES_ENV) or None


def plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def sqlite_template(folder: Path) -> Iterator[Path]:
    """Yield a migrated SQLite file to copy per test."""
    path = folder / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    yield path


def sqlite_copy(template: Path, folder: Path) -> str:
    """Copy the template to a fresh file and return its URL."""
    path = folder / "moodcheck.db"
    shutil.copyfile(template, path)
    return f"sqlite+aiosqlite:///{path}"


@contextmanager
def postgres_database(base_url: str) -> Iterator[str]:
    """Create, migrate, yield and finally drop a private PostgreSQL database."""
    name = f"moodcheck_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = plain_dsn(base_url)

    async def admin_sql(sql: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    url = make_url(base_url).set(database=name, drivername="postgresql+asyncpg")
    rendered = url.render_as_string(hide_password=False)
    try:
        upgrade(rendered)
        yield rendered
    finally:
        asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def postgres_empty(url: str) -> None:
    """Empty every table (fast, keeps the schema)."""
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)

    async def run() -> None:
        connection = await asyncpg.connect(plain_dsn(url))
        try:
            await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        finally:
            await connection.close()

    asyncio.run(run())

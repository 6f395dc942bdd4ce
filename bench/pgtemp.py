"""A throw-away PostgreSQL database for a benchmark run (created, then dropped)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url


async def _admin(dsn: str, sql: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_database(server_url: str, prefix: str) -> str:
    """Create a new, empty database on the server of ``server_url``; return its SQLAlchemy
    URL."""
    name = f"{prefix}_{secrets.token_hex(3)}"
    await _admin(_admin_dsn(server_url), f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


async def drop_database(server_url: str, url: str) -> None:
    """Drop a database made by :func:`create_database` (connected to the server's own
    database: one cannot drop the database one is connected to)."""
    name = make_url(url).database
    await _admin(_admin_dsn(server_url), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def temporary_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """Yield the SQLAlchemy URL of a new, empty database on the server of ``server_url``."""
    url = await create_database(server_url, prefix)
    try:
        yield url
    finally:
        await drop_database(server_url, url)

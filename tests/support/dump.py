"""A whole database as text, for tests that prove something is nowhere in it."""

from __future__ import annotations

import re
import sqlite3

import asyncpg
from sqlalchemy.engine import make_url

from storage.crypto import KID_CHARS, VERSION
from storage.models import Base
from tests.support.databases import plain_dsn
from tests.support.keys import TEST_KEYRING

_TOKEN = re.compile(rf"{VERSION}:[A-Za-z0-9_-]{{{KID_CHARS}}}:[A-Za-z0-9_-]+=*")


def _opened(text: str) -> str:
    """The dump with each encrypted value's plaintext beside it: what someone holding the
    data keys as well as the database would see (storage/crypto.py)."""
    return _TOKEN.sub(lambda m: f"{m.group(0)} [{TEST_KEYRING.decrypt(m.group(0))}]", text)


async def dump(url: str) -> str:
    """Return every row of every table as text, encrypted values opened with the tests' keys
    (:func:`_opened`)."""
    return _opened(await _raw_dump(url))


async def _raw_dump(url: str) -> str:
    """Every row of every table as text: SQLite's ``iterdump`` (schema and rows), or on
    PostgreSQL each table's rows as JSON (``row_to_json``), tables listed from the catalogue
    (not from our models, so a table the code forgot is dumped too)."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        assert database is not None
        connection = sqlite3.connect(database)
        try:
            return "\n".join(connection.iterdump())
        finally:
            connection.close()
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        tables = [
            r["tablename"]
            for r in await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        assert set(Base.metadata.tables) <= set(tables)  # the catalogue sees ours
        lines: list[str] = []
        for table in tables:
            query = (
                f'SELECT row_to_json(t)::text AS j FROM "{table}" t'  # names from the catalogue
            )
            lines.extend(f"{table}: {row['j']}" for row in await connection.fetch(query))
        return "\n".join(lines)
    finally:
        await connection.close()

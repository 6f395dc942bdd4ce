"""SQLite in the event loop's thread (storage/sqlite_inline.py) rests on SQLAlchemy's aiosqlite
adapter, private attributes included: these tests fail when that adapter changes under it, and
check that the switch (MOODCHECK_SQLITE_IN_LOOP=0) gives aiosqlite's thread back."""

from __future__ import annotations

import hashlib
import inspect
import re
import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import event, text
from sqlalchemy.connectors import asyncio as connectors
from sqlalchemy.dialects.sqlite import aiosqlite as adapter

from storage.db import create_engine
from storage.sqlite_inline import IN_LOOP_VARIABLE, InlineSqliteConnection, InlineSqliteCursor

ADAPTER = (
    adapter.AsyncAdapt_aiosqlite_connection,
    adapter.AsyncAdapt_aiosqlite_cursor,
    adapter.AsyncAdapt_aiosqlite_dbapi,
    connectors.AsyncAdapt_dbapi_connection,
    connectors.AsyncAdapt_dbapi_cursor,
)
REVIEWED = {
    # SQLAlchemy 2.1.9: the adapter's source read against storage/sqlite_inline.py.
    "767cd8a8e9566033a7a4dc55c93d10954733cbfae228379537c13287de366ed9",
}
"""Fingerprints of adapter versions checked against InlineSqliteConnection. A new one means
SQLAlchemy changed the code that drives the connection: read it, make sqlite_inline.py
follow, run the SQLite tests, then add the fingerprint (or set MOODCHECK_SQLITE_IN_LOOP=0)."""


def _source() -> str:
    return "".join(inspect.getsource(part) for part in ADAPTER)


def test_the_adapter_is_a_reviewed_version() -> None:
    fingerprint = hashlib.sha256(_source().encode()).hexdigest()
    assert fingerprint in REVIEWED, (
        f"SQLAlchemy {sqlalchemy.__version__} changed its aiosqlite adapter "
        f"(fingerprint {fingerprint}): see REVIEWED in this file"
    )


NOT_USED = frozenset({"nextset", "setinputsizes"})
"""Cursor methods the generic adapter wraps that neither the SQLite dialect calls nor
aiosqlite's own cursor has."""


def test_everything_the_adapter_uses_is_there() -> None:
    # What drives a connection once made (the dbapi class only makes aiosqlite's own).
    source = "".join(
        inspect.getsource(part)
        for part in ADAPTER
        if part is not adapter.AsyncAdapt_aiosqlite_dbapi
    )
    on_connection = set(re.findall(r"(?:self\._connection|\bconnection)\.(\w+)", source))
    on_cursor = set(re.findall(r"self\._cursor\.(\w+)", source)) - NOT_USED
    assert {"cursor", "_conn", "_tx", "_connection"} <= on_connection  # the parse still works
    assert {"execute", "fetchall", "close"} <= on_cursor
    connection = InlineSqliteConnection(sqlite3.connect(":memory:"))
    try:
        missing = {name for name in on_connection if not hasattr(connection, name)}
        cursor = connection.cursor()
        missing |= {f"cursor.{name}" for name in on_cursor if not hasattr(cursor, name)}
        assert hasattr(connection._tx, "put_nowait")
    finally:
        connection.stop()
    assert not missing, f"InlineSqliteConnection lacks what the adapter uses: {sorted(missing)}"
    assert isinstance(cursor, InlineSqliteCursor)


async def _thread_of_a_statement(tmp_path: Path) -> tuple[int, str]:
    """Run one statement through a real engine: (the thread SQLite ran it in, the driver
    connection's class)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'inline.db'}")
    ran_in: list[int] = []

    def thread_id() -> int:
        ran_in.append(threading.get_ident())
        return 1

    @event.listens_for(engine.sync_engine, "connect")
    def _register(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.create_function("thread_id", 0, thread_id)  # type: ignore[attr-defined]

    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT thread_id()"))).scalar() == 1
            raw = await connection.get_raw_connection()
            driver = type(raw.driver_connection).__name__
            await connection.rollback()
    finally:
        await engine.dispose()
    return ran_in[0], driver


async def test_statements_run_in_the_loops_thread(tmp_path: Path) -> None:
    thread, driver = await _thread_of_a_statement(tmp_path)
    assert (thread, driver) == (threading.get_ident(), "InlineSqliteConnection")


async def test_the_switch_gives_aiosqlites_thread_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(IN_LOOP_VARIABLE, "0")
    thread, driver = await _thread_of_a_statement(tmp_path)
    assert thread != threading.get_ident() and driver == "Connection"

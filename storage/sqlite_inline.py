"""SQLite statements in the event loop's thread: the one module that stands in for aiosqlite.

SQLAlchemy's aiosqlite dialect drives an aiosqlite connection, which hands every statement to
a worker thread and back (three or four thread switches per statement under the GIL). For this
bot's statements, which take microseconds inside SQLite, the hand-off was most of the CPU a
button tap cost (figures in docs/performance.md, "Why no aiosqlite thread").
:class:`InlineSqliteConnection` gives the dialect a plain ``sqlite3`` connection with the part
of aiosqlite's shape the dialect uses, so statements run at once in the caller's thread.

What it costs (docs/architecture.md, "SQLite in the event loop"): a long statement holds the
event loop for its duration (nothing else of the process runs meanwhile), and the shape relies
on SQLAlchemy's adapter, including private attributes (``_conn``, ``_connection``, ``_tx``):
``tests/integration/test_sqlite_inline.py`` fails when that adapter changes. Setting
``MOODCHECK_SQLITE_IN_LOOP=0`` switches it off (aiosqlite's thread, SQLite's own busy wait).

Waiting for another writer stays asynchronous: the connection has no busy timeout, and a
statement that finds the database locked is retried after an ``asyncio.sleep`` (1 ms,
doubling to 20 ms) until :data:`SQLITE_BUSY_TIMEOUT_MS` runs out, so the event loop never
sleeps inside SQLite.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

SQLITE_BUSY_TIMEOUT_MS = 10_000
IN_LOOP_VARIABLE = "MOODCHECK_SQLITE_IN_LOOP"
"""Environment variable: ``0`` runs SQLite in aiosqlite's thread instead of the loop's."""
_BUSY_CODES = frozenset({5, 261})  # SQLITE_BUSY, SQLITE_BUSY_RECOVERY: worth another try
_T = TypeVar("_T")


def in_loop_enabled() -> bool:
    """Whether SQLite statements run in the event loop's thread (the default)."""
    return os.environ.get(IN_LOOP_VARIABLE, "1").strip() not in {"0", "false", "no", "off"}


async def _patiently(function: Callable[..., _T], *args: Any) -> _T:
    """Run one SQLite call; while the database is locked by another connection, wait
    asynchronously and try again, within the busy budget."""
    delay = 0.001
    deadline: float | None = None
    while True:
        try:
            return function(*args)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) not in _BUSY_CODES:
                raise
            now = asyncio.get_running_loop().time()
            deadline = deadline if deadline is not None else now + SQLITE_BUSY_TIMEOUT_MS / 1000
            if now >= deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.02)


class _RunNow:
    """Stands in for aiosqlite's request queue, which SQLAlchemy's adapter uses directly to
    set ``isolation_level``: runs the request at once."""

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting caller
            if future is not None:
                future.set_exception(exc)
        else:
            if future is not None:
                future.set_result(result)


class InlineSqliteCursor:
    """An aiosqlite-shaped cursor whose calls run at once, in the caller's thread."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        """As sqlite3's."""
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        """As sqlite3's."""
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        """As sqlite3's."""
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        """As sqlite3's."""
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> Self:
        """Run one statement."""
        await _patiently(self._cursor.execute, sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Self:
        """Run one statement for each set of parameters."""
        await _patiently(self._cursor.executemany, sql, list(parameters))
        return self

    async def fetchone(self) -> Any:
        """As sqlite3's."""
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        """As sqlite3's."""
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        """As sqlite3's."""
        return self._cursor.fetchall()

    async def close(self) -> None:
        """As sqlite3's."""
        self._cursor.close()


class InlineSqliteConnection:
    """The part of aiosqlite's ``Connection`` that SQLAlchemy's aiosqlite dialect uses, on a
    plain sqlite3 connection, without a thread."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection
        self._tx = _RunNow()

    @property
    def isolation_level(self) -> str | None:
        """As sqlite3's."""
        return self._conn.isolation_level

    def cursor(self) -> InlineSqliteCursor:
        """A new cursor (``async with`` it, or await nothing: it is ready)."""
        return InlineSqliteCursor(self._conn.cursor())

    async def commit(self) -> None:
        """Commit the transaction in progress."""
        await _patiently(self._conn.commit)

    async def rollback(self) -> None:
        """Roll back the transaction in progress."""
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        """As sqlite3's."""
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        """Close the connection (again: nothing)."""
        self.stop()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's terminate)."""
        if self._connection is not None:
            self._connection = None
            self._conn.close()


def inline_creator(args: Sequence[Any], kwargs: Mapping[str, Any]) -> Callable[[], Any]:
    """The ``async_creator`` that gives SQLAlchemy an in-loop connection."""

    async def connect() -> InlineSqliteConnection:
        return InlineSqliteConnection(sqlite3.connect(*args, **kwargs))

    return connect

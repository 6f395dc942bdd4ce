"""Engine and session factory.

SQLite is tuned for a bot that writes from several tasks at once: WAL so readers never block
the writer, writers that wait for each other instead of failing, and ``BEGIN IMMEDIATE`` so a
transaction takes the write lock up front. Without it, a transaction that read first and then
writes can fail at once with SQLITE_BUSY when another writer committed in between, and
waiting does not help with that.

``synchronous=NORMAL`` in WAL mode syncs the log at checkpoints, not at every commit: a
committed transaction survives a crash of the process (the log is in the operating system's
hands), and only a power cut or kernel crash can lose the last few commits, never corrupt
the database.

SQLite statements run in the event loop's thread (:class:`InlineSqliteConnection`), not in
aiosqlite's worker thread. A statement of this bot takes some microseconds inside SQLite;
handing it to a thread and back cost about 240 microseconds of CPU and twice that in latency
(two thread switches under the GIL, three to four per statement with cursor and fetch), which
was most of the CPU a button tap took. Waiting for another writer stays asynchronous: the
connection has no busy timeout, and a statement that finds the database locked is retried
after an ``asyncio.sleep`` (1 ms, doubling to 20 ms) until the same 10 s budget runs out, so
the event loop never sleeps inside SQLite.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.crypto import Keyring, bind_keyring

SQLITE_BUSY_TIMEOUT_MS = 10_000
READ_ONLY = "moodcheck_read_only"
"""Execution option of a connection whose transaction only reads (see UnitOfWork)."""
_BUSY_CODES = frozenset({5, 261})  # SQLITE_BUSY, SQLITE_BUSY_RECOVERY: worth another try
_T = TypeVar("_T")


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


def _inline_creator(args: Sequence[Any], kwargs: Mapping[str, Any]) -> Callable[[], Any]:
    async def connect() -> InlineSqliteConnection:
        return InlineSqliteConnection(sqlite3.connect(*args, **kwargs))

    return connect


def normalise_url(url: str) -> str:
    """Return the URL with the async driver this project uses for its backend."""
    parsed = make_url(url)
    if parsed.drivername in {"sqlite", "sqlite+pysqlite"}:
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (below) instead of the driver's deferred BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # No waiting inside SQLite, which would stop the event loop: see _patiently.
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A read-only unit of work takes no write lock: it never upgrades, so it cannot hit
        # the SQLITE_BUSY case that BEGIN IMMEDIATE exists to avoid.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_engine(url: str, *, keyring: Keyring | None = None, echo: bool = False) -> AsyncEngine:
    """Create the async engine for a database URL (SQLite file or PostgreSQL).

    ``keyring``: the data keys of the encrypted columns (storage/crypto.py); without one, an
    encrypted column cannot be read or written (DataKeyError), everything else works."""
    url = normalise_url(url)
    # hide_parameters: SQLAlchemy puts bound values (answers, message text) into its error
    # messages, which end up in logs; the statements stay, the patient data does not.
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if url.startswith("postgresql"):
        kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    if url.startswith("sqlite"):
        parsed = make_url(url)
        args, options = parsed.get_dialect()().create_connect_args(parsed)
        kwargs["async_creator"] = _inline_creator(args, options)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    bind_keyring(engine, keyring)
    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Create the session factory; committed objects stay usable without more I/O."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


class DatabaseUnavailableError(RuntimeError):
    """Raised by our own code when the database cannot be used now (e.g. no write
    transaction could start within the busy budget); :func:`is_unavailable` says yes to it."""


def is_unavailable(error: BaseException) -> bool:
    """Tell whether an error means the database could not be reached or written just now
    (worth trying the same work again later), as opposed to a bug or bad data.

    Connection refused or cut, a pool timeout, SQLite's "database is locked" after the busy
    budget, "unable to open database file", a disk I/O error: SQLAlchemy raises these as
    ``OperationalError``/``InterfaceError`` (or a ``DBAPIError`` that invalidated its
    connection), anywhere in the chain of causes. asyncpg's connect raises a plain
    ``OSError``/``TimeoutError`` that SQLAlchemy passes on unwrapped; those count only as the
    error itself, since a Bot API failure also has an ``OSError`` among its causes.
    """
    from sqlalchemy import exc as sa  # noqa: PLC0415 - only needed on the failure path

    if isinstance(
        error, DatabaseUnavailableError | OSError | TimeoutError | sqlite3.OperationalError
    ):
        return True
    if type(error).__module__.startswith("asyncpg") and "Connect" in type(error).__name__:
        return True
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa.OperationalError | sa.InterfaceError | sa.TimeoutError):
            return True
        if isinstance(current, sa.DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False

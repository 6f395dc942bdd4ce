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

SQLite statements run in the event loop's thread (storage/sqlite_inline.py says why, what it
costs and how to switch it off with ``MOODCHECK_SQLITE_IN_LOOP=0``).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.crypto import Keyring, bind_keyring
from storage.sqlite_inline import SQLITE_BUSY_TIMEOUT_MS, in_loop_enabled, inline_creator

READ_ONLY = "moodcheck_read_only"
"""Execution option of a connection whose transaction only reads (see UnitOfWork)."""


def normalise_url(url: str) -> str:
    """Return the URL with the async driver this project uses for its backend."""
    parsed = make_url(url)
    if parsed.drivername in {"sqlite", "sqlite+pysqlite"}:
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def _tune_sqlite(engine: AsyncEngine, *, in_loop: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (below) instead of the driver's deferred BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In the loop, no waiting inside SQLite, which would stop the event loop (the
        # connection waits asynchronously instead); in aiosqlite's thread SQLite waits.
        cursor.execute(f"PRAGMA busy_timeout={0 if in_loop else SQLITE_BUSY_TIMEOUT_MS}")
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
    in_loop = url.startswith("sqlite") and in_loop_enabled()
    if in_loop:
        parsed = make_url(url)
        args, options = parsed.get_dialect()().create_connect_args(parsed)
        kwargs["async_creator"] = inline_creator(args, options)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine, in_loop=in_loop)
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

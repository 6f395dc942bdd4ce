"""Engine and session factory.

SQLite is tuned for a bot that writes from several tasks at once: WAL so readers never block
the writer, a busy timeout so writers queue instead of failing, and ``BEGIN IMMEDIATE`` so a
transaction takes the write lock up front. Without it, a transaction that read first and then
writes can fail at once with SQLITE_BUSY when another writer committed in between, and the
busy timeout does not help with that.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
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


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (below) instead of the driver's deferred BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A read-only unit of work takes no write lock: it never upgrades, so it cannot hit
        # the SQLITE_BUSY case that BEGIN IMMEDIATE exists to avoid.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Create the async engine for a database URL (SQLite file or PostgreSQL)."""
    url = normalise_url(url)
    # hide_parameters: SQLAlchemy puts bound values (answers, message text) into its error
    # messages, which end up in logs; the statements stay, the patient data does not.
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if url.startswith("postgresql"):
        kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Create the session factory; committed objects stay usable without more I/O."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)

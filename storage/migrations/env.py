"""Alembic environment: runs migrations on the async engine the bot itself uses."""

import asyncio
from typing import Any, Literal

from alembic import context
from sqlalchemy.engine import Connection

from storage.db import create_engine
from storage.models import Base
from storage.types import UTCDateTime

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, _autogen_context: Any) -> str | Literal[False]:
    """Write our UTC column type as a plain timezone-aware DateTime in migrations, so old
    migrations never import application code that may change."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    # The data keys (storage.migrate.upgrade): a migration that encrypts finds them on the
    # connection's engine (storage.crypto.keyring_of).
    engine = create_engine(url, keyring=config.attributes.get("keyring"))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    """Run migrations against the URL given by storage.migrate (or a passed connection)."""
    connection: Any = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to Alembic")
    asyncio.run(_run_async(url))


if context.is_offline_mode():
    raise RuntimeError(
        "offline (SQL script) migrations are not supported; use `moodcheck db upgrade`"
    )
run_migrations_online()

"""Schema migrations (Alembic), driven from code so `moodcheck db upgrade` needs no alembic.ini."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.crypto import Keyring
from storage.db import create_engine, normalise_url

MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaBehindError(RuntimeError):
    """The database is not at the schema this code expects."""


def alembic_config(url: str) -> Config:
    """Return an Alembic configuration for a database URL."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's config is an INI parser: a literal % must be doubled.
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


ItemOrders = Mapping[str, Sequence[str]]
"""Questionnaire key (``checkins.questionnaire``) -> its item ids in asking order."""


def upgrade(
    url: str,
    revision: str = "head",
    *,
    keyring: Keyring | None = None,
    item_orders: ItemOrders | None = None,
) -> None:
    """Bring the database up to a revision (the latest by default). Blocking: not in a loop.

    ``keyring``: the data keys, which migration 0014 needs to encrypt rows written before
    encryption existed (none needed on an empty database). ``item_orders``: the
    questionnaires of the configuration, which migration 0019 needs to name the question of
    a check-in in progress by its id (none needed without one)."""
    config = alembic_config(url)
    config.attributes["keyring"] = keyring
    config.attributes["item_orders"] = item_orders
    command.upgrade(config, revision)


def head_revision() -> str:
    """Return the revision the code expects."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None  # noqa: S101 - the project ships migrations
    return head


async def current_revision(url: str) -> str | None:
    """Return the database's revision, or None for an empty database."""

    def _read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_read)
    finally:
        await engine.dispose()


async def check_schema(url: str) -> None:
    """Raise SchemaBehindError, saying how to fix it, unless the schema is at the head."""
    current = await current_revision(url)
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaBehindError(
            "the database has no moodcheck schema yet: run `moodcheck db upgrade` first"
        )
    raise SchemaBehindError(
        f"the database schema is at revision {current} but this version of moodcheck needs "
        f"{head}: back up the database, then run `moodcheck db upgrade`"
    )


async def upgrade_async(
    url: str, *, keyring: Keyring | None = None, item_orders: ItemOrders | None = None
) -> None:
    """Run :func:`upgrade` from async code (Alembic runs its own event loop, in a thread)."""
    await asyncio.to_thread(
        functools.partial(upgrade, url, keyring=keyring, item_orders=item_orders)
    )

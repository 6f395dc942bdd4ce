"""The encrypted columns as a whole: are there encrypted rows, do the keys open them, and
re-encrypting every row under the newest key (``moodcheck keys rotate``).

The only queries that look at an encrypted column's stored text look at its header (the
``v1:<key id>:`` prefix, never the content): no query filters or compares on what a patient
wrote, which encryption would make impossible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Table,
    Text,
    bindparam,
    cast,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.crypto import VERSION, EncryptedJSON, EncryptedText, keyring_of
from storage.models import Base


@dataclass(frozen=True, slots=True)
class EncryptedColumn:
    """One encrypted column of one table (with an ``id`` primary key)."""

    table: Table
    column: Column[Any]

    @property
    def name(self) -> str:
        """``table.column``."""
        return f"{self.table.name}.{self.column.name}"

    def stored(self) -> ColumnElement[str]:
        """The stored text (a JSON column's holds the encrypted value JSON-quoted)."""
        return cast(self.column, Text)

    def under(self, kid: str | None = None) -> ColumnElement[bool]:
        """Rows encrypted (under a given key, or any)."""
        prefix = f"{VERSION}:{kid}:" if kid else f"{VERSION}:"
        text = self.stored()
        return or_(text.like(f"{prefix}%"), text.like(f'"{prefix}%'))


def encrypted_columns() -> list[EncryptedColumn]:
    """Every column declared with an encrypted type, found in the models (a new one is
    covered by its type alone)."""
    found: list[EncryptedColumn] = []
    for table in Base.metadata.sorted_tables:
        found.extend(
            EncryptedColumn(table, column)
            for column in table.columns
            if isinstance(column.type, EncryptedText | EncryptedJSON)
        )
    return found


async def has_encrypted_rows(engine: AsyncEngine) -> bool:
    """Tell whether any row holds an encrypted value (needs no key; the schema must exist)."""
    async with engine.connect() as connection:
        for col in encrypted_columns():
            if await connection.scalar(select(exists().where(col.under()))):
                return True
    return False


async def check_keys(engine: AsyncEngine) -> None:
    """Decrypt the oldest and the newest encrypted value of every column with the engine's
    keys: DataKeyError (one line) if a key is missing (lost) or does not open them (wrong)."""
    async with engine.connect() as connection:
        for col in encrypted_columns():
            pk = col.table.c.id
            for order in (pk.asc(), pk.desc()):
                await connection.scalar(
                    select(col.column).where(col.under()).order_by(order).limit(1)
                )


@dataclass(frozen=True, slots=True)
class Progress:
    """How far re-encryption has come in one column."""

    column: str
    done: int
    total: int


async def rotate(
    engine: AsyncEngine, *, batch: int = 500, progress: Callable[[Progress], None] | None = None
) -> int:
    """Re-encrypt every value not under the newest key, ``batch`` rows per transaction;
    return how many. Resumable: a stopped run leaves committed batches done, and the next one
    takes only rows still under an older key. A value the keys cannot open stops it
    (DataKeyError). Rows are locked on PostgreSQL so a running bot's writes are not lost."""
    newest = keyring_of(engine.dialect).newest
    changed = 0
    for col in encrypted_columns():
        pk = col.table.c.id
        stale = col.under() & ~col.under(newest)
        async with engine.connect() as connection:
            total = int(await connection.scalar(select(func.count()).where(stale)) or 0)
        done, last = 0, 0
        if progress:
            progress(Progress(col.name, done, total))
        while True:
            async with engine.begin() as connection:
                query = select(pk, col.column).where(stale, pk > last).order_by(pk).limit(batch)
                if engine.dialect.name == "postgresql":
                    query = query.with_for_update()
                rows = (await connection.execute(query)).all()
                if not rows:
                    break
                # Written back through the column's type: encrypted again, under the newest.
                value = bindparam("value", type_=col.column.type)
                await connection.execute(
                    update(col.table).where(pk == bindparam("row_id")).values({col.column: value}),
                    [{"row_id": row[0], "value": row[1]} for row in rows],
                )
            last = rows[-1][0]
            done += len(rows)
            changed += len(rows)
            if progress:
                progress(Progress(col.name, done, max(total, done)))
    return changed

"""What every repository shares: its session, statements built once per dialect,
insert-or-ignore and row locking. Repositories write one aggregate each and never commit;
read models live in ``storage.queries``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import (
    CursorResult,
    Executable,
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Base,
)

_T = TypeVar("_T")
_E = TypeVar("_E", bound=Executable)


def update_by_id(columns: tuple[str, ...], table: Table) -> Update:
    """``UPDATE table SET column = :v_column ... WHERE id = :b_id`` (built once: ``_built``)."""
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(f"v_{name}", type_=table.c[name].type) for name in columns})
    )


def skip_locked(stmt: Select[_T], dialect: str) -> Select[_T]:
    """Lock the selected rows on PostgreSQL so several workers share work without doubles.

    SQLite has one writer at a time (BEGIN IMMEDIATE), which is the same guarantee.
    """
    return stmt.with_for_update(skip_locked=True) if dialect == "postgresql" else stmt


def insert_ignoring(dialect: str, table: Table, conflict: tuple[str, ...]) -> Insert:
    """``INSERT .. ON CONFLICT DO NOTHING`` on a table (built once: ``Repository._built``).

    On the table, not the mapped class: a Core statement skips the ORM's bulk-insert
    machinery, and a statement object used again keeps its cache key (building and keying
    the statement afresh was most of an insert's CPU on the tap path).
    """
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing(index_elements=conflict)


_BUILT: dict[tuple[str, str], Any] = {}
"""Statements run over and over with their values as parameters, built once per dialect (see
``Repository._built``)."""


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        return self.session.sync_session.get_bind().dialect.name

    def _built(self, name: str, build: Callable[[str], _E]) -> _E:
        """Return the statement ``build(dialect)`` makes, made once per dialect.

        For statements run many times in a row with values as parameters: building them and
        deriving SQLAlchemy's cache keys was a visible share of a due-scan batch
        (docs/performance.md, "Figures behind constants in the code"); a built one keeps its
        key.
        """
        key = (name, self.dialect)
        built = _BUILT.get(key)
        if built is None:
            built = _BUILT[key] = build(key[1])
        return cast("_E", built)

    async def _insert_ignore(
        self, model: type[Base], values: Mapping[str, object], conflict: Sequence[str]
    ) -> bool:
        """Insert a row unless it would break a unique constraint; tell whether it went in."""
        table = cast("Table", model.__table__)
        stmt = self._built(
            f"ignore:{table.name}:{','.join(conflict)}",
            lambda dialect: insert_ignoring(dialect, table, tuple(conflict)),
        )
        # No autoflush: a row that goes in by id needs nothing pending (what it refers to
        # has its id, so it is in the database), and flushing here wrote a check-in's row
        # once per statement of a tap instead of once at commit.
        with self.session.no_autoflush:
            result = cast("CursorResult[Any]", await self.session.execute(stmt, values))
        return result.rowcount == 1

    def _locking(self, stmt: Select[_T]) -> Select[_T]:
        """Lock the selected rows on PostgreSQL (see ``skip_locked``)."""
        return skip_locked(stmt, self.dialect)

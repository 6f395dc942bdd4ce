"""Check-ins and their answers: opening, taps, reminders, closing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import NotRequired, TypedDict, cast

from sqlalchemy import (
    Executable,
    Select,
    Table,
    Update,
    bindparam,
    delete,
    inspect,
    select,
    update,
)

from bot.domain import lifecycle
from storage.models import (
    Answer,
    Checkin,
    Patient,
)
from storage.repositories.base import Repository, insert_ignoring, update_by_id

_ANSWERS_TABLE = cast("Table", Answer.__table__)


class NewCheckin(TypedDict):
    """A check-in to open (``open_for_day``; ``open_many``'s rows, sent as executemany
    parameters, so every row of one call has the same keys)."""

    patient_id: int
    local_date: date
    timezone: str
    questionnaire: str
    status: str
    item: str | None
    """The id of the first question to ask (None: nothing to ask)."""
    opened_at: datetime
    closes_at: datetime
    version: int
    completed_at: NotRequired[datetime | None]
    """Set on a day recorded as missed when it is opened."""


_CHECKINS = cast("Table", Checkin.__table__)


_ANSWERS = select(_ANSWERS_TABLE.c.item_id, _ANSWERS_TABLE.c.value).where(
    _ANSWERS_TABLE.c.checkin_id == bindparam("checkin_id")
)
"""A check-in's answers: read on every tap, so built once, on the table (no ORM)."""


_TAPPED = frozenset({"status", "item", "message_id", "completed_at", "draft", "version"})
"""The columns of a check-in that a tap changes (``CheckinRepository.write_tapped``)."""


_CHECKIN_COLUMNS = frozenset(inspect(Checkin).column_attrs.keys())


class CheckinRepository(Repository):
    """Check-ins and their answers."""

    async def with_patient(self, checkin_id: int) -> tuple[Checkin, Patient] | None:
        """Return a check-in and its patient in one query (the check-in locked for update on
        PostgreSQL)."""
        stmt = self._built("checkin_with_patient", self._with_patient_statement)
        row = (await self.session.execute(stmt, {"checkin_id": checkin_id})).first()
        if row is None:
            return None
        self.subject = row[1].id
        return row[0], row[1]

    subject: int | None = None
    """The patient of the check-in this unit of work loaded (see ``UpdateRepository.link``)."""

    async def write_tapped(self, checkin: Checkin) -> None:
        """Write what a tap changed on a check-in it loaded, in one statement built once.

        The ORM's flush of the one changed row (change tracking, a unit of work, a statement
        looked up per flush) was the tap transaction's largest part. The row is written by
        id, as loaded (on PostgreSQL it is locked since :meth:`with_patient`; on SQLite the
        transaction is the only writer), and the object leaves the session so that the ORM
        does not write it again at commit. Nothing to do if the ORM already wrote it (an
        autoflush before a query) and nothing changed since; and the ORM writes it, as
        anywhere else, if a column other than a tap's changed too.
        """
        changed = _CHECKIN_COLUMNS - inspect(checkin).unmodified
        if not changed or not changed <= _TAPPED:
            return
        stmt = self._built("checkin_tapped", self._tapped_statement)
        values = {f"new_{name}": getattr(checkin, name) for name in _TAPPED}
        with self.session.no_autoflush:
            await self.session.execute(stmt, {"checkin_id": checkin.id, **values})
        self.session.expunge(checkin)

    @staticmethod
    def _tapped_statement(dialect: str) -> Update:
        del dialect  # the same on every dialect
        table = cast("Table", Checkin.__table__)
        return (
            update(table)
            .where(table.c.id == bindparam("checkin_id"))
            .values({name: bindparam(f"new_{name}", type_=table.c[name].type) for name in _TAPPED})
        )

    @staticmethod
    def _with_patient_statement(dialect: str) -> Select[Checkin, Patient]:
        stmt = (
            select(Checkin, Patient)
            .join(Patient, Patient.id == Checkin.patient_id)
            .where(Checkin.id == bindparam("checkin_id"))
        )
        return stmt.with_for_update(of=Checkin) if dialect == "postgresql" else stmt

    async def for_day(self, patient_id: int, day: date) -> Checkin | None:
        """Return the patient's check-in for a local date."""
        return await self.session.scalar(
            select(Checkin).where(Checkin.patient_id == patient_id, Checkin.local_date == day)
        )

    async def open_for_day(self, values: NewCheckin) -> tuple[Checkin, bool]:
        """Return the check-in for (patient, local date), creating it if needed.

        The unique constraint decides races: whoever inserts second gets the first's row.
        Returns the row and whether this call created it.
        """
        created = await self._insert_ignore(Checkin, values, ("patient_id", "local_date"))
        checkin = await self.for_day(values["patient_id"], values["local_date"])
        assert checkin is not None  # noqa: S101 - inserted or already there
        return checkin, created

    async def open_many(self, rows: Sequence[NewCheckin]) -> dict[int, int]:
        """Create check-ins in one statement, skipping (patient, date) pairs that exist.

        Returns the new check-ins' ids by patient id.
        """
        if not rows:
            return {}
        stmt = self._built("open_many", self._open_many_statement)
        # Rows as executemany parameters: one compiled statement, sent in batches
        # ("insertmanyvalues"). A multi-row VALUES is compiled afresh for every row count,
        # which was most of a due scan (docs/performance.md, "Figures behind constants").
        result = await self.session.execute(stmt, list(rows))
        return {int(patient_id): int(checkin_id) for patient_id, checkin_id in result.all()}

    @staticmethod
    def _open_many_statement(dialect: str) -> Executable:
        # The table, not the entity: with a list of rows, insert(Checkin) is the ORM's bulk
        # insert, which does per-row work of its own before Core's.
        table = cast("Table", Checkin.__table__)
        return insert_ignoring(dialect, table, ("patient_id", "local_date")).returning(
            table.c.patient_id, table.c.id
        )

    async def add_answer(self, checkin_id: int, item_id: str, value: str, at: datetime) -> bool:
        """Store an answer unless the item already has one; tell whether it was stored."""
        return await self._insert_ignore(
            Answer,
            {"checkin_id": checkin_id, "item_id": item_id, "value": value, "answered_at": at},
            ("checkin_id", "item_id"),
        )

    async def answers(self, checkin_id: int) -> dict[str, str]:
        """Return the answers of a check-in by item id."""
        rows = await self.session.execute(_ANSWERS, {"checkin_id": checkin_id})
        return {str(item_id): str(value) for item_id, value in rows.all()}

    async def set_message_ids(self, pairs: Sequence[tuple[int, int]]) -> None:
        """Record which Telegram message shows each check-in: (checkin_id, message_id)."""
        if pairs:
            # On the table (as OutboxRepository.apply): one per prompt the worker sends.
            stmt = self._built(
                "checkin-message-ids", lambda _d: update_by_id(("message_id",), _CHECKINS)
            )
            await self.session.execute(
                stmt, [{"b_id": checkin, "v_message_id": message} for checkin, message in pairs]
            )

    async def delete_answer(self, checkin_id: int, item_id: str) -> None:
        """Remove an answer (the patient went Back to change it)."""
        await self.session.execute(
            delete(Answer).where(Answer.checkin_id == checkin_id, Answer.item_id == item_id)
        )

    async def closing(self, now: datetime, limit: int) -> Sequence[Checkin]:
        """Return open check-ins whose window has closed, locked for this scan."""
        stmt = (
            select(Checkin)
            .where(Checkin.status == "open", Checkin.closes_at <= now)
            .order_by(Checkin.closes_at, Checkin.id)
            .limit(limit)
        )
        return (await self.session.scalars(self._locking(stmt))).all()

    async def needing_reminder(
        self, now: datetime, opened_before: datetime, limit: int
    ) -> Sequence[tuple[Checkin, Patient]]:
        """Return open, unreminded check-ins opened before a time, with their patients."""
        stmt = (
            select(Checkin, Patient)
            .join(Patient, Patient.id == Checkin.patient_id)
            .where(
                Checkin.status == "open",
                Checkin.reminded_at.is_(None),
                Checkin.closes_at > now,
                Checkin.opened_at <= opened_before,
                Patient.status == lifecycle.PatientStatus.ACTIVE,
            )
            .order_by(Checkin.opened_at, Checkin.id)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=Checkin)
        return [(row[0], row[1]) for row in (await self.session.execute(stmt)).all()]

    async def answered_ids(self, checkin_ids: Sequence[int]) -> set[int]:
        """Return which of these check-ins have at least one answer."""
        if not checkin_ids:
            return set()
        rows = await self.session.scalars(
            select(Answer.checkin_id).where(Answer.checkin_id.in_(checkin_ids)).distinct()
        )
        return set(rows.all())

    async def completed_on(self, days: Sequence[tuple[int, date]]) -> set[int]:
        """Of (patient id, local date) pairs, return the patients whose daily check-in of
        that date is completed (the side-check scan: optional items follow a finished
        check-in)."""
        if not days:
            return set()
        wanted = dict(days)
        stmt = select(Checkin.patient_id, Checkin.local_date).where(
            Checkin.patient_id.in_(wanted), Checkin.status == "completed"
        )
        rows = await self.session.execute(stmt)
        return {pid for pid, day in rows if wanted.get(pid) == day}

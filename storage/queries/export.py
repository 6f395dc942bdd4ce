"""Read models for exports and the outcomes report. The FHIR bundle's rows (a cohort's
patients, their answered check-ins and the answers) are streamed in batches in check-in order
so a large cohort never sits in memory; the CSV of ``/export`` is one query."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Select, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Alert, Answer, Checkin, Patient
from storage.statuses import LEFT
from storage.types import UTCDateTime

_S = TypeVar("_S", bound=Select[*tuple[Any, ...]])


class ExportedPatient(NamedTuple):
    """A patient row as an export may use it: key, label, status."""

    id: int
    label: str
    status: str


class ExportedCheckin(NamedTuple):
    """A check-in that has answers, with when it was completed or last answered."""

    id: int
    patient_id: int
    status: str
    completed_at: datetime | None
    last_answered_at: datetime


ExportedAnswer = tuple[int, str, str]
"""One stored answer: check-in id, item id, value (a plain tuple: there are many)."""


class CsvRow(NamedTuple):
    """A row of the CSV export: an answer with its check-in, or a check-in without answers
    (item and value None)."""

    label: str
    local_date: date
    timezone: str
    status: str
    item_id: str | None
    value: str | None


class ExportQueries:
    """Queries for a cohort's export. Read only; rows come as tuples (no ORM objects)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def _of_cohort(stmt: _S, cohort_id: int, include_left: bool) -> _S:
        """Keep the rows of the cohort's patients (without ``include_left``, none who left:
        discharged or withdrawn). ``stmt`` must select from a join with Patient."""
        stmt = stmt.where(Patient.cohort_id == cohort_id)
        if not include_left:
            stmt = stmt.where(Patient.status.not_in(sorted(LEFT)))
        return stmt

    async def patients(self, cohort_id: int, *, include_left: bool) -> list[ExportedPatient]:
        """Return the cohort's patients by id."""
        stmt = self._of_cohort(
            select(Patient.id, Patient.label, Patient.status), cohort_id, include_left
        )
        rows = (await self.session.execute(stmt.order_by(Patient.id))).all()
        return [ExportedPatient._make(row) for row in rows]

    async def _stream(
        self, stmt: Select[*tuple[Any, ...]], batch: int
    ) -> AsyncIterator[Sequence[Any]]:
        connection = await self.session.connection()
        result = await connection.stream(stmt.execution_options(yield_per=batch))
        async for partition in result.partitions(batch):
            yield partition

    async def checkins(
        self, cohort_id: int, *, include_left: bool, batch: int = 5000
    ) -> AsyncIterator[list[ExportedCheckin]]:
        """Yield the cohort's check-ins that have answers, by id, in batches."""
        last = (
            select(
                Answer.checkin_id,
                type_coerce(func.max(Answer.answered_at), UTCDateTime()).label("last"),
            )
            .group_by(Answer.checkin_id)
            .subquery()
        )
        stmt = self._of_cohort(
            select(
                Checkin.id,
                Checkin.patient_id,
                Checkin.status,
                Checkin.completed_at,
                last.c.last,
            )
            .join(last, last.c.checkin_id == Checkin.id)
            .join(Patient, Patient.id == Checkin.patient_id),
            cohort_id,
            include_left,
        ).order_by(Checkin.id)
        async for rows in self._stream(stmt, batch):
            yield [ExportedCheckin._make(row) for row in rows]

    async def answers(
        self, cohort_id: int, *, include_left: bool, batch: int = 20000
    ) -> AsyncIterator[list[ExportedAnswer]]:
        """Yield the answers of the same check-ins, by check-in id, in batches."""
        stmt = self._of_cohort(
            select(Answer.checkin_id, Answer.item_id, Answer.value)
            .join(Checkin, Checkin.id == Answer.checkin_id)
            .join(Patient, Patient.id == Checkin.patient_id),
            cohort_id,
            include_left,
        ).order_by(Answer.checkin_id)
        async for rows in self._stream(stmt, batch):
            yield [tuple(row) for row in rows]

    async def csv_rows(self, cohort_id: int) -> list[CsvRow]:
        """Return every check-in of the cohort (patients who left included) with its
        answers, one row per answer or one for a check-in without any, by label, date and
        answer time (``/export``: the CSV is built in memory, a file Telegram takes)."""
        stmt = self._of_cohort(
            select(
                Patient.label,
                Checkin.local_date,
                Checkin.timezone,
                Checkin.status,
                Answer.item_id,
                Answer.value,
            )
            .join(Patient, Patient.id == Checkin.patient_id)
            .outerjoin(Answer, Answer.checkin_id == Checkin.id),
            cohort_id,
            include_left=True,
        ).order_by(Patient.label, Checkin.local_date, Answer.answered_at, Answer.id)
        return [CsvRow._make(row) for row in (await self.session.execute(stmt)).all()]


class OutcomePatient(NamedTuple):
    """A patient's dates for the outcomes report."""

    id: int
    consented_at: datetime
    left_at: datetime | None


class OutcomeQueries:
    """Queries for the cohort outcomes report. Read only."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def patients(self, cohort_id: int) -> list[OutcomePatient]:
        """Return every patient of the cohort with when they enrolled and left."""
        left = func.coalesce(Patient.discharged_at, Patient.withdrawn_at)
        stmt = select(Patient.id, Patient.consented_at, type_coerce(left, UTCDateTime()))
        rows = await self.session.execute(stmt.where(Patient.cohort_id == cohort_id))
        return [OutcomePatient._make(row) for row in rows.all()]

    async def checkin_status_counts(
        self, cohort_id: int, first: date, last: date
    ) -> list[tuple[int, str, int]]:
        """Return (patient id, status, how many) of the cohort's check-ins dated in
        [first, last]."""
        stmt = (
            select(Checkin.patient_id, Checkin.status, func.count())
            .join(Patient, Patient.id == Checkin.patient_id)
            .where(
                Patient.cohort_id == cohort_id,
                Checkin.local_date >= first,
                Checkin.local_date <= last,
            )
            .group_by(Checkin.patient_id, Checkin.status)
        )
        return [(r[0], r[1], r[2]) for r in (await self.session.execute(stmt)).all()]

    async def alerts(
        self, cohort_id: int, since: datetime, until: datetime
    ) -> list[tuple[str, datetime, datetime | None]]:
        """Return (tier, raised, acknowledged) of alerts raised in [since, until)."""
        stmt = select(Alert.tier, Alert.created_at, Alert.acknowledged_at).where(
            Alert.cohort_id == cohort_id, Alert.created_at >= since, Alert.created_at < until
        )
        return [(r[0], r[1], r[2]) for r in (await self.session.execute(stmt)).all()]

"""Read model: the weekly digest's figures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    and_,
    case,
    exists,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import aliased

from bot.domain import lifecycle
from storage.models import (
    Alert,
    AlertFollowUp,
    Answer,
    Checkin,
    Patient,
)
from storage.repositories.base import Repository


def _answer_columns(items: Sequence[str]) -> list[ColumnElement[str | None]]:
    """One column per item: a check-in's answer to it (NULL when not answered), for a select
    joining Answer to Checkin and grouped by the check-in. One row per check-in instead of
    one per answer: the rows, not the database, were most of the digest's reading time.
    For a few items (outer joins allowed); ``DigestQueries._answers_object`` for many."""
    return [func.max(case((Answer.item_id == item, Answer.value))) for item in items]


def _answers(items: Sequence[str], values: Sequence[str | None]) -> dict[str, str]:
    return {item: value for item, value in zip(items, values, strict=True) if value is not None}


class DigestQueries(Repository):
    """What the weekly digest reads: a cohort's patients, days, instruments and alerts, each
    in one set-based query (never one per patient)."""

    async def patients(self, cohort_id: int) -> Sequence[tuple[int, str, str]]:
        """Return a cohort's patients as (id, label, status)."""
        stmt = select(Patient.id, Patient.label, Patient.status).where(
            Patient.cohort_id == cohort_id
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in (await self.session.execute(stmt))]

    async def locales(self, cohort_id: int, statuses: Sequence[str]) -> dict[str, int]:
        """Return how many of a cohort's patients in these statuses use each locale."""
        stmt = (
            select(Patient.locale, func.count())
            .where(Patient.cohort_id == cohort_id, Patient.status.in_(statuses))
            .group_by(Patient.locale)
        )
        return {str(r[0]): int(r[1]) for r in (await self.session.execute(stmt))}

    async def daily_checkins(
        self, cohort_id: int, since: date, until: date, items: Sequence[str]
    ) -> list[tuple[int, date, str, str, dict[str, str]]]:
        """Return a cohort's check-ins between two local dates (inclusive), one row each:
        (patient id, local date, status, questionnaire, its answers to some items by item)."""
        stmt = (
            select(
                Checkin.patient_id,
                Checkin.local_date,
                Checkin.status,
                Checkin.questionnaire,
                *_answer_columns(items),
            )
            .join(Patient, Patient.id == Checkin.patient_id)
            .outerjoin(Answer, and_(Answer.checkin_id == Checkin.id, Answer.item_id.in_(items)))
            .where(
                Patient.cohort_id == cohort_id,
                Checkin.local_date >= since,
                Checkin.local_date <= until,
            )
            .group_by(Checkin.id)
        )
        return [
            (int(r[0]), r[1], str(r[2]), str(r[3]), _answers(items, r[4:]))
            for r in (await self.session.execute(stmt)).all()
        ]

    async def instrument_checkins(
        self,
        cohort_id: int,
        items: Sequence[str],
        first_items: Sequence[str],
        since: date | None = None,
        until: date | None = None,
    ) -> list[tuple[int, date, dict[str, str]]]:
        """Return the cohort's check-ins (between two local dates, inclusive, when given) that
        answered one of ``first_items`` (each instrument's first item), one row each:
        (patient id, local date, its answers to ``items`` by item).

        The filter is a lookup of the first items per check-in: most check-ins are daily
        ones, and probing each for every item of every instrument was most of the time."""
        first = aliased(Answer)
        holds = exists().where(first.checkin_id == Checkin.id, first.item_id.in_(first_items))
        stmt = (
            select(Checkin.patient_id, Checkin.local_date, self._answers_object())
            .join(Patient, Patient.id == Checkin.patient_id)
            .join(Answer, and_(Answer.checkin_id == Checkin.id, Answer.item_id.in_(items)))
            .where(Patient.cohort_id == cohort_id, holds)
            .group_by(Checkin.id)
        )
        if since is not None:
            stmt = stmt.where(Checkin.local_date >= since)
        if until is not None:
            stmt = stmt.where(Checkin.local_date <= until)
        return [(int(r[0]), r[1], r[2]) for r in (await self.session.execute(stmt)).all()]

    def _answers_object(self) -> ColumnElement[dict[str, str]]:
        """A check-in's answers as one JSON object, item to value, aggregated over its joined
        Answer rows (which must not be NULL). One aggregate per answer: a column per item
        (``_answer_columns``) evaluates every item's CASE on every answer, twice the
        database's time with the 36 items of the PHQ-9, GAD-7 and PCL-5."""
        if self.dialect == "postgresql":
            return type_coerce(func.json_object_agg(Answer.item_id, Answer.value), JSON)
        return type_coerce(func.json_group_object(Answer.item_id, Answer.value), JSON)

    async def alerts(
        self, cohort_id: int, since: datetime
    ) -> Sequence[tuple[int, str, str, datetime, datetime | None, datetime | None]]:
        """Return a cohort's alerts not resolved, or created, acknowledged or resolved since
        an instant: (patient id, tier, status, created, acknowledged, resolved)."""
        stmt = select(
            Alert.patient_id,
            Alert.tier,
            Alert.status,
            Alert.created_at,
            Alert.acknowledged_at,
            Alert.resolved_at,
        ).where(
            Alert.cohort_id == cohort_id,
            Alert.patient_id.is_not(None),  # an erased patient's alerts count only in outcomes
            or_(
                Alert.status != lifecycle.AlertStatus.RESOLVED,
                Alert.created_at >= since,
                Alert.acknowledged_at >= since,
                Alert.resolved_at >= since,
            ),
        )
        return [
            (int(r[0]), str(r[1]), str(r[2]), r[3], r[4], r[5])
            for r in (await self.session.execute(stmt)).all()
            if r[0] is not None
        ]

    async def raised(
        self, cohort_id: int, start: datetime, end: datetime
    ) -> Sequence[tuple[str, str, str, dict[str, Any] | None, datetime]]:
        """Return the alerts a cohort raised in [start, end), oldest first: (label, tier,
        rule, details, created)."""
        stmt = (
            select(Patient.label, Alert.tier, Alert.rule, Alert.details, Alert.created_at)
            .join(Patient, Patient.id == Alert.patient_id)
            .where(
                Alert.cohort_id == cohort_id,
                Alert.created_at >= start,
                Alert.created_at < end,
            )
            .order_by(Alert.created_at, Alert.id)
        )
        return [
            (str(r[0]), str(r[1]), str(r[2]), r[3], r[4])
            for r in (await self.session.execute(stmt)).all()
        ]

    async def resolved_without_follow_up(
        self, cohort_id: int, start: datetime, end: datetime
    ) -> list[tuple[str, str, str, dict[str, Any] | None]]:
        """Return the IMMEDIATE and URGENT events a cohort resolved in [start, end) with no
        follow-up action recorded: (label, tier, rule, details) of each head alert, oldest
        first."""
        recorded = select(AlertFollowUp.id).where(AlertFollowUp.head_id == Alert.id)
        stmt = (
            select(Patient.label, Alert.tier, Alert.rule, Alert.details)
            .join(Patient, Patient.id == Alert.patient_id)
            .where(
                Alert.cohort_id == cohort_id,
                Alert.head_id == Alert.id,
                Alert.tier.in_(("IMMEDIATE", "URGENT")),
                Alert.resolved_at >= start,
                Alert.resolved_at < end,
                ~recorded.exists(),
            )
            .order_by(Alert.resolved_at, Alert.id)
        )
        rows = (await self.session.execute(stmt)).all()
        return [(str(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]

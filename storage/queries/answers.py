"""Read model: stored answers, the one home of every query that reads them for what people
are shown or what the rules look at.

Two reads of answers live elsewhere, each for a reason: the tap path's read of the check-in
it is answering (``CheckinRepository.answers``: the aggregate reading its own rows, once per
tap, built once on the table), and the row shapes one read model alone needs: the digest's
days and a cohort's instrument check-ins, one row per check-in with its answers aggregated
by the database (``DigestQueries.daily_checkins`` and ``instrument_checkins``, which the
outcomes report reads too), and the exports (``ExportQueries``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select

from storage.models import Answer, Checkin
from storage.repositories.base import Repository

CHUNK = 500
"""Check-in ids per ``IN (...)`` list: a digest asks for a cohort's (SQLite allows 32,766
parameters a statement, and a long list costs PostgreSQL a plan of its own)."""


class CheckinAnswers(NamedTuple):
    """A check-in with its answers."""

    checkin: Checkin
    answers: dict[str, str]
    """Value by item id."""
    answered_at: dict[str, datetime]
    """When each was answered, by item id (only when asked for: ``of_patient(times=True)``)."""


class AnswerQueries(Repository):
    """Answers by check-in and by patient."""

    async def of_checkins(
        self, checkin_ids: Sequence[int], items: Sequence[str] | None = None
    ) -> dict[int, dict[str, str]]:
        """Return the answers of these check-ins, all or only to ``items``: {check-in id:
        {item id: value}} (a check-in without such answers is left out)."""
        found: dict[int, dict[str, str]] = {}
        for start in range(0, len(checkin_ids), CHUNK):
            stmt = select(Answer.checkin_id, Answer.item_id, Answer.value).where(
                Answer.checkin_id.in_(checkin_ids[start : start + CHUNK])
            )
            if items is not None:
                stmt = stmt.where(Answer.item_id.in_(items))
            for checkin_id, item_id, value in (await self.session.execute(stmt)).all():
                found.setdefault(int(checkin_id), {})[str(item_id)] = str(value)
        return found

    async def of_patient(self, patient_id: int, *, times: bool = False) -> list[CheckinAnswers]:
        """Return a patient's check-ins, oldest first, each with its answers; with ``times``
        also when each was answered, and the answers in the order they were given.

        Two queries whatever the number of check-ins. The times are asked for by the
        patient's own export only: the patient-level rules read this at the end of every
        check-in and need neither the column nor the order."""
        checkins = (
            await self.session.scalars(
                select(Checkin)
                .where(Checkin.patient_id == patient_id)
                .order_by(Checkin.local_date)
            )
        ).all()
        found = [CheckinAnswers(checkin, {}, {}) for checkin in checkins]
        by_id = {entry.checkin.id: entry for entry in found}
        columns = (Answer.checkin_id, Answer.item_id, Answer.value)
        stmt = (select(*columns, Answer.answered_at) if times else select(*columns)).join(
            Checkin, Checkin.id == Answer.checkin_id
        )
        stmt = stmt.where(Checkin.patient_id == patient_id)
        if times:
            stmt = stmt.order_by(Answer.answered_at, Answer.id)
        for row in (await self.session.execute(stmt)).all():
            entry = by_id.get(int(row[0]))
            if entry is None:  # a check-in added since the first query (no lock is taken)
                continue
            entry.answers[str(row[1])] = str(row[2])
            if times:
                entry.answered_at[str(row[1])] = row[3]
        return found

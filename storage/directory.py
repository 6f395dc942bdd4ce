"""What the bot remembers about patients without the database: chat -> locale and cohort,
check-in -> questionnaire.

A crisis card must reach a patient even while the database is down (issue 13): the card
needs the patient's language and the cohort's region, and a tap's meaning needs the check-in's
questionnaire. Both are copied here as rows pass through any session (loaded or written), and
the patients and open check-ins are read once at start-up. Nothing here is patient content:
ids, a locale code, a cohort id and a questionnaire key.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from storage.models import Checkin, Cohort, Patient
from storage.statuses import TAKING_PART

MAX_CHECKINS = 200_000
"""Check-ins remembered (the newest); a check-in is answered within a day or two."""


@dataclass(frozen=True, slots=True)
class Known:
    """A patient as the crisis card needs them."""

    locale: str
    cohort_id: int
    taking_part: bool
    region: str | None = None
    """The patient's own crisis-card region, if they chose or were given one."""
    timezone: str = "UTC"


class Directory:
    """In-memory copies, filled by the sessions of one session factory (see :meth:`watch`)."""

    def __init__(self) -> None:
        self.patients: dict[int, Known] = {}
        """By chat id."""
        self.regions: dict[int, str] = {}
        """Cohort id -> region."""
        self.checkins: OrderedDict[int, str] = OrderedDict()
        """Check-in id -> questionnaire key, oldest first."""
        self._factory: async_sessionmaker[AsyncSession] | None = None

    def patient(self, chat_id: int) -> Known | None:
        """The patient of a private chat, if seen."""
        return self.patients.get(chat_id)

    def region(self, cohort_id: int) -> str | None:
        """A cohort's region, if seen."""
        return self.regions.get(cohort_id)

    def questionnaire(self, checkin_id: int) -> str | None:
        """The questionnaire a check-in asks, if seen."""
        return self.checkins.get(checkin_id)

    def note(self, row: object) -> None:
        """Copy what is needed from a row a session loaded or wrote."""
        if isinstance(row, Patient):
            if row.chat_id is not None and row.locale and row.cohort_id is not None:
                self.patients[row.chat_id] = Known(
                    row.locale,
                    row.cohort_id,
                    row.status in TAKING_PART,
                    row.region,
                    row.timezone or "UTC",
                )
        elif isinstance(row, Cohort):
            if row.id is not None and row.region:
                self.regions[row.id] = row.region
        elif isinstance(row, Checkin) and row.id is not None and row.questionnaire:
            self.checkins[row.id] = row.questionnaire
            self.checkins.move_to_end(row.id)
            while len(self.checkins) > MAX_CHECKINS:
                self.checkins.popitem(last=False)

    def watch(self, factory: async_sessionmaker[AsyncSession]) -> None:
        """Copy rows as the factory's sessions load and flush them.

        The listeners go on a Session class of this factory's own, so two bots in one process
        (tests) keep separate directories.
        """
        own: type[Session] = type(
            "DirectorySession", (factory.kw.get("sync_session_class", Session),), {}
        )
        factory.configure(sync_session_class=own)
        self._factory = factory

        def loaded(_session: Session, instance: Any) -> None:
            self.note(instance)

        def flushed(session: Session, _context: Any) -> None:
            for instance in session.identity_map.values():
                self.note(instance)

        event.listen(own, "loaded_as_persistent", loaded)
        event.listen(own, "after_flush", flushed)

    async def warm(self, now: datetime) -> None:
        """Read every cohort, patient and still-open check-in once (at start-up)."""
        if self._factory is None:
            return
        async with self._factory() as session:
            for cohort_id, region in await session.execute(select(Cohort.id, Cohort.region)):
                self.regions[cohort_id] = region
            rows = await session.execute(
                select(
                    Patient.chat_id,
                    Patient.locale,
                    Patient.cohort_id,
                    Patient.status,
                    Patient.region,
                    Patient.timezone,
                )
            )
            for chat_id, locale, cohort_id, status, own_region, zone in rows:
                taking_part = status in TAKING_PART
                self.patients[chat_id] = Known(locale, cohort_id, taking_part, own_region, zone)
            open_checkins = await session.execute(
                select(Checkin.id, Checkin.questionnaire)
                .where(Checkin.closes_at > now)
                .order_by(Checkin.id)
            )
            for checkin_id, questionnaire in open_checkins:
                self.checkins[checkin_id] = questionnaire

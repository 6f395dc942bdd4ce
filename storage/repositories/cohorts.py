"""Cohorts as configured (mirrored into the database at start-up)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NotRequired, TypedDict

from sqlalchemy import (
    select,
)

from storage.models import (
    Cohort,
)
from storage.repositories.base import Repository


class CohortValues(TypedDict):
    """A cohort as the configuration file gives it (``CohortRepository.upsert``); a key
    left out leaves the column as it is."""

    name: str
    provider_chat_id: int
    configured_chat_id: NotRequired[int | None]
    timezone: str
    locale: str
    region: str
    questionnaire: str
    checkin_window_hours: NotRequired[int | None]


class CohortRepository(Repository):
    """Cohorts, mirrored from the configuration file."""

    async def by_name(self, name: str) -> Cohort | None:
        """Return the cohort of that name."""
        return await self.session.scalar(select(Cohort).where(Cohort.name == name))

    async def by_chat(self, chat_id: int) -> Cohort | None:
        """Return the cohort whose provider group is this chat (as it is now; a group's
        earlier ids are ``ChannelRepository.cohort_by_chat``'s)."""
        return await self.session.scalar(select(Cohort).where(Cohort.provider_chat_id == chat_id))

    async def get(self, cohort_id: int) -> Cohort | None:
        """Return the cohort with that id."""
        return await self.session.get(Cohort, cohort_id)

    async def all(self) -> Sequence[Cohort]:
        """Return every cohort."""
        return (await self.session.scalars(select(Cohort))).all()

    async def upsert(self, values: CohortValues, now: datetime) -> Cohort:
        """Create the cohort or bring it in line with the configuration."""
        cohort = await self.by_name(values["name"])
        if cohort is None:
            cohort = Cohort(**values, created_at=now, updated_at=now)
            self.session.add(cohort)
        else:
            changed = False
            for key, value in values.items():
                if getattr(cohort, key) != value:
                    setattr(cohort, key, value)
                    changed = True
            if changed:
                cohort.updated_at = now
        await self.session.flush()
        return cohort

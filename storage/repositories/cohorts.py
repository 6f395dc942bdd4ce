"""Cohorts as configured (mirrored into the database at start-up)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    select,
)

from storage.models import (
    Cohort,
)
from storage.repositories.base import Repository


class CohortRepository(Repository):
    """Cohorts, mirrored from the configuration file."""

    async def by_name(self, name: str) -> Cohort | None:
        """Return the cohort of that name."""
        return await self.session.scalar(select(Cohort).where(Cohort.name == name))

    async def get(self, cohort_id: int) -> Cohort | None:
        """Return the cohort with that id."""
        return await self.session.get(Cohort, cohort_id)

    async def all(self) -> Sequence[Cohort]:
        """Return every cohort."""
        return (await self.session.scalars(select(Cohort))).all()

    async def upsert(self, values: dict[str, Any], now: datetime) -> Cohort:
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

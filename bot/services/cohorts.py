"""Mirroring the configured cohorts into the database at start-up."""

from __future__ import annotations

from bot.services.runtime import Runtime


class CohortSync:
    """Brings the cohorts table in line with the configuration file."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def sync(self) -> None:
        """Create or update every configured cohort (cohorts left out of the file stay)."""
        now = self._rt.clock.now()
        async with self._rt.uow() as uow:
            for cohort in self._rt.config.cohorts:
                await uow.cohorts.upsert(
                    {
                        "name": cohort.name,
                        "provider_chat_id": cohort.provider_chat_id,
                        "timezone": cohort.timezone,
                        "locale": cohort.locale,
                        "region": cohort.region,
                        "questionnaire": cohort.questionnaire,
                        "checkin_window_hours": cohort.checkin_window_hours,
                    },
                    now,
                )
            await uow.commit()

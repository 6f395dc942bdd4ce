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
                stored = await uow.cohorts.by_name(cohort.name)
                # The configured id is where the group started; once Telegram moved it to a
                # supergroup, the database knows where it is
                # (bot.services.provider.provider_channel).
                # A different id in the file is a new starting point.
                followed = stored is not None and cohort.provider_chat_id in {
                    stored.configured_chat_id,
                    stored.provider_chat_id,
                }
                current = stored.provider_chat_id if stored is not None and followed else None
                await uow.cohorts.upsert(
                    {
                        "name": cohort.name,
                        "provider_chat_id": current or cohort.provider_chat_id,
                        "configured_chat_id": cohort.provider_chat_id,
                        "timezone": cohort.timezone,
                        "locale": cohort.locale,
                        "region": cohort.region,
                        "questionnaire": cohort.questionnaire,
                        "checkin_window_hours": cohort.checkin_window_hours,
                    },
                    now,
                )
            await uow.commit()

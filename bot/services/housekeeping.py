"""Housekeeping: keep no more than is needed, each cohort by its own settings.

- A finished (sent, failed, dead, cancelled) outbox row keeps its payload, for support, for
  the cohort's ``finished_messages_days`` (default 7); then it loses the payload (message
  text, an invite link's code) and, if it went to a private chat, the chat id (a person's
  Telegram id). Rows of no cohort (replies to people not enrolled) follow the shortest
  setting of all cohorts.
- Processed-update ids only guard against replays, and Telegram keeps an update for at most
  24 hours: they go after ``PROCESSED_UPDATES_DAYS`` for every cohort alike.
- With ``erase_discharged_after_days``, a discharged patient's data is erased that many days
  after discharge, as ``/delete`` would under the cohort's ``retention_after_delete``
  (the audit trail records it; the group is not told again: it discharged them).

Every setting is documented in docs/privacy.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.cohort_config import CohortConfig
from bot.config import ConfigError
from bot.services.patient.erasure import Eraser
from bot.services.runtime import Runtime
from storage.models import Cohort

PROCESSED_UPDATES_DAYS = 2


@dataclass(slots=True)
class Swept:
    """What one housekeeping run did."""

    scrubbed: int = 0
    """Finished outbox rows that lost their payload (and private chat id)."""
    forgotten: int = 0
    """Processed-update ids forgotten."""
    erased: int = 0
    """Discharged patients whose data was erased."""


class Housekeeping:
    """Scrubs finished messages, forgets old update ids and erases discharged patients, in
    batches."""

    def __init__(self, runtime: Runtime, batch_size: int = 2000) -> None:
        self._rt = runtime
        self._batch_size = batch_size
        self._eraser = Eraser(runtime)

    async def run(self, now: datetime | None = None) -> Swept:
        """Do every kind of housekeeping due at ``now``."""
        now = now or self._rt.clock.now()
        swept = Swept()
        async with self._rt.uow() as uow:
            cohorts = [(c, self._config(c)) for c in await uow.cohorts.all()]
        chats_of = {
            c.id: sorted({c.provider_chat_id, c.configured_chat_id or 0} - {0}) for c, _ in cohorts
        }
        days = [config.finished_messages_days for _, config in cohorts if config is not None]
        for cohort, config in cohorts:
            keep = config.finished_messages_days if config is not None else max(days, default=7)
            swept.scrubbed += await self._scrub(
                now - timedelta(days=keep), cohort.id, chats_of[cohort.id]
            )
        every_chat = sorted({chat for chats in chats_of.values() for chat in chats})
        shortest = min(days, default=7)
        swept.scrubbed += await self._scrub(now - timedelta(days=shortest), None, every_chat)
        swept.forgotten = await self._forget(now - timedelta(days=PROCESSED_UPDATES_DAYS))
        for cohort, config in cohorts:
            if config is not None and config.erase_discharged_after_days is not None:
                before = now - timedelta(days=config.erase_discharged_after_days)
                swept.erased += await self._erase_discharged(now, cohort.id, before)
        return swept

    def _config(self, cohort: Cohort) -> CohortConfig | None:
        try:
            return self._rt.config.cohort(cohort.name)
        except ConfigError:
            return None  # taken out of the file: its settings are unknown, defaults apply

    async def _scrub(self, before: datetime, cohort_id: int | None, chats: list[int]) -> int:
        total = 0
        while True:
            async with self._rt.uow() as uow:
                done = await uow.outbox.scrub_finished(
                    before, self._batch_size, cohort_id=cohort_id, chats=chats
                )
                await uow.commit()
            total += done
            if done < self._batch_size:
                return total

    async def _forget(self, before: datetime) -> int:
        total = 0
        while True:
            async with self._rt.uow() as uow:
                done = await uow.updates.forget(before, self._batch_size)
                await uow.commit()
            total += done
            if done < self._batch_size:
                return total

    async def _erase_discharged(self, now: datetime, cohort_id: int, before: datetime) -> int:
        total = 0
        while True:
            # One patient per transaction: an erasure sweeps the group's messages for the
            # label, and a failure leaves the others' erasure done.
            async with self._rt.uow() as uow:
                found = await uow.patients.discharged_before(cohort_id, before, 1)
                for patient in found:
                    await self._eraser.erase(uow, now, patient, actor="system", tell_group=False)
                await uow.commit()
            if not found:
                return total
            total += 1

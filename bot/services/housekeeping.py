"""Housekeeping: keep no more than is needed.

Sent (or given-up) outbox rows keep their payload for a while, for support, then lose it:
message text is patient-facing content, and an invite link's code must not outlive its use
in a table that anyone with database access can read. Processed-update ids only guard against
replays, which Telegram stops after a day; they go too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.services.runtime import Runtime

OUTBOX_PAYLOAD_DAYS = 7
PROCESSED_UPDATES_DAYS = 7


class Housekeeping:
    """Blanks old outbox payloads and forgets old processed-update ids, in batches."""

    def __init__(self, runtime: Runtime, batch_size: int = 2000) -> None:
        self._rt = runtime
        self._batch_size = batch_size

    async def run(self, now: datetime | None = None) -> tuple[int, int]:
        """Return (payloads blanked, update ids forgotten)."""
        now = now or self._rt.clock.now()
        blanked = forgotten = 0
        while True:
            async with self._rt.uow() as uow:
                done = await uow.outbox.blank_payloads(
                    now - timedelta(days=OUTBOX_PAYLOAD_DAYS), self._batch_size
                )
                gone = await uow.updates.forget(
                    now - timedelta(days=PROCESSED_UPDATES_DAYS), self._batch_size
                )
                await uow.commit()
            blanked += done
            forgotten += gone
            if done < self._batch_size and gone < self._batch_size:
                return blanked, forgotten

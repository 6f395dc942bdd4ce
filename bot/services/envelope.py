"""The envelope of every use case an update starts: one transaction, the update claimed once.

:func:`in_update` takes the time from the clock, opens a unit of work, claims the update id
(``processed_updates``: a replay or a second delivery of the same update changes nothing and
answers nothing), runs the use case with the unit of work and the time, commits, and wakes
the delivery worker so that what it queued goes out at once.

The rule for refusals, the same everywhere: a use case that refuses (a stale or forged
button, someone else's check-in, a press on another group's alert...) raises :class:`Refuse`
with the short notice for the tapper, and **nothing is written, the claim neither**. A
refusal changes nothing, so answering a replay of it again is harmless, and the tapper of a
replay (Telegram sends an update again when it did not hear back) sees the same notice
instead of none. Whatever writes something (an answer, a status, a queued reply, even a
reply that only says "no") commits, claim included, so it happens once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.services.runtime import Runtime
from storage.uow import UnitOfWork

Notice = str | None
"""The short text a button's answer shows the tapper (None: nothing to show)."""
UseCase = Callable[[UnitOfWork, datetime], Awaitable[Notice]]


class Refuse(Exception):  # noqa: N818 - a refusal, not a failure
    """Raised by a use case to refuse the update: nothing it did is written, its claim
    neither, and ``notice`` answers the tapper."""

    def __init__(self, notice: Notice) -> None:
        super().__init__("refused")
        self.notice = notice


async def in_update(rt: Runtime, update_id: int | None, use_case: UseCase) -> Notice:
    """Run one update's use case in its own transaction (see the module's docstring).

    ``update_id`` None: the work does not come from an update (nothing to claim).
    """
    now = rt.clock.now()
    async with rt.uow() as uow:
        if update_id is not None and not await uow.updates.claim(update_id, now):
            return None  # a replay: done already
        try:
            notice = await use_case(uow, now)
        except Refuse as refusal:
            return refusal.notice  # leaving the block unsaved rolls everything back
        await uow.commit()
    rt.wake_delivery()
    return notice

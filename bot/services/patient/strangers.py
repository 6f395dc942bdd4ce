"""People who are not enrolled: answered a few times a minute, then left unanswered.

Runs before any handler, for every message in a private chat (``handlers.strangers``). A
patient (enrolled, paused or withdrawn: anyone with a patient row) is never held back. A
stranger's message within the limits of ``bot.domain.throttle`` is handled as usual (and
its answer queued at the lowest priority, after every patient's prompt); one over them is
dropped before anything is written: no processed-update row, no outbox row, one read.
The limits are kept in memory, per process (``docs/operations.md``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.domain.invites import is_well_formed
from bot.domain.throttle import Kind, StrangerLimits, StrangerThrottle
from bot.services.runtime import Runtime

logger = logging.getLogger(__name__)

FORGET_EVERY = 1000
"""Strangers' messages between two sweeps of the senders with nothing left to count."""


def kind_of(text: str | None, *, crisis: Callable[[str], bool]) -> Kind:
    """Return what a stranger's message asks of the bot."""
    if text is None:
        return Kind.MESSAGE
    parts = text.split(maxsplit=1)
    if parts and parts[0].split("@", 1)[0] == "/start" and len(parts) == 2:
        return Kind.INVITE if is_well_formed(parts[1].strip()) else Kind.MESSAGE
    return Kind.CRISIS if crisis(text) else Kind.MESSAGE


class StrangerService:
    """Decides whether a private message is handled, before anything is stored."""

    def __init__(
        self,
        runtime: Runtime,
        crisis: Callable[[str], bool],
        limits: StrangerLimits | None = None,
    ) -> None:
        self._rt = runtime
        self._crisis = crisis
        self.throttle = StrangerThrottle(limits)
        self.dropped: dict[str, int] = {kind.value: 0 for kind in Kind}
        """Messages left unanswered, by kind (``moodcheck_stranger_messages_dropped_total``)."""
        self._seen = 0

    async def admit(self, user_id: int, text: str | None) -> bool:
        """Tell whether a private message should be handled (False: drop it unanswered)."""
        async with self._rt.uow.reading() as uow:
            if await uow.patients.by_telegram_user(user_id) is not None:
                return True
        now = self._rt.clock.now().timestamp()  # the injected clock: tests move it
        self._seen += 1
        if self._seen % FORGET_EVERY == 0:
            self.throttle.forget_idle(now)
        kind = kind_of(text, crisis=self._crisis)
        if self.throttle.admit(user_id, kind, now):
            return True
        self.dropped[kind.value] += 1
        return False

    def invite_refused(self) -> None:
        """An invite code was looked up and refused (unknown, used or expired)."""
        self.throttle.invite_refused(self._rt.clock.now().timestamp())

"""The clinician privilege in a provider group: asks Telegram for a person's membership
(through ``Runtime.member_status``, wired by the composition root to getChatMember) and
applies ``bot.domain.roles.decide``.

Answers are remembered for :data:`MEMBERSHIP_TTL` per group and person (in this process), so
a burst of commands asks Telegram once; a promotion or demotion counts within that time.
A failed question is not remembered: the next command asks again.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from bot.domain.roles import Decision, decide, needs_membership
from bot.services.runtime import Runtime

MEMBERSHIP_TTL = timedelta(seconds=60)
_MAX_REMEMBERED = 10_000


class Roles:
    """Decides whether a person may run a command or action in a cohort's group."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._seen: dict[tuple[int, int], tuple[str, datetime]] = {}

    async def decide(
        self, action: str, clinicians: str | Collection[int], chat_id: int, user_id: int
    ) -> Decision:
        """Allowed, or refused and why (asks Telegram only when the rule needs it).
        ``clinicians``: the cohort's setting (``CohortConfig.clinicians``)."""
        status = None
        if needs_membership(action, clinicians):
            status = await self.membership(chat_id, user_id)
        return decide(action, user_id, clinicians, status)

    async def membership(self, chat_id: int, user_id: int) -> str | None:
        """The person's ChatMember status in the group (None: Telegram could not say)."""
        now = self._rt.clock.now()
        known = self._seen.get((chat_id, user_id))
        if known is not None and now - known[1] < MEMBERSHIP_TTL:
            return known[0]
        status = await self._rt.member_status(chat_id, user_id)
        if status is not None:
            if len(self._seen) >= _MAX_REMEMBERED:
                self._seen.pop(next(iter(self._seen)))
            self._seen[(chat_id, user_id)] = (status, now)
        return status

"""Fixed replies to things the bot does not act on (free text, unknown commands)."""

from __future__ import annotations

from datetime import datetime

from bot.services.envelope import in_update
from bot.services.runtime import Runtime
from storage.uow import UnitOfWork


class ReplyService:
    """Queues a reviewed, fixed reply in the sender's language."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def fixed(
        self, update_id: int, user_id: int, chat_id: int, language_code: str | None, template: str
    ) -> None:
        """Reply with a template; a patient gets it in their chosen language."""

        async def reply(uow: UnitOfWork, now: datetime) -> None:
            patient = await uow.patients.by_telegram_user(user_id)
            locale = patient.locale if patient else self._rt.locale_for(language_code, "en")
            await self._rt.outbound(uow, now).reply(
                chat_id, template, locale, enrolled=patient is not None
            )

        await in_update(self._rt, update_id, reply)

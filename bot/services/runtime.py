"""What every service needs: the unit-of-work factory, the clock, content, and a doorbell."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.config import AppConfig
from bot.domain.clock import Clock
from prompts.render import Renderer
from storage.uow import UnitOfWorkFactory


def _nothing() -> None:
    return None


async def _assume_open(user_id: int) -> bool:
    del user_id
    return True


@dataclass(slots=True)
class Runtime:
    """Shared dependencies of the application services, built once by the composition root."""

    uow: UnitOfWorkFactory
    clock: Clock
    config: AppConfig
    renderer: Renderer
    wake_delivery: Callable[[], None] = field(default=_nothing)
    """Called after a commit that queued messages, so they go out without waiting for a poll."""
    private_chat_open: Callable[[int], Awaitable[bool]] = field(default=_assume_open)
    """Whether the bot may write to a user privately (they started it and did not block it);
    the composition root asks Telegram (bot.channel)."""

    def locale_for(self, language_code: str | None, fallback: str) -> str:
        """Return the locale to talk to someone in: theirs when we have it, else the fallback."""
        if language_code:
            short = language_code.split("-")[0].lower()
            if short in self.renderer.locales:
                return short
        return fallback

"""What every service needs: the unit-of-work factory, the clock, content, and a way to wake
the delivery worker."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.config import AppConfig
from bot.domain.clock import Clock
from bot.services.alerts.crisis_card import CardKind
from bot.services.outbound import Outbound
from prompts.render import Renderer
from storage.uow import UnitOfWork, UnitOfWorkFactory


def _nothing() -> None:
    return None


async def _assume_open(user_id: int) -> bool:
    del user_id
    return True


async def _membership_unknown(chat_id: int, user_id: int) -> str | None:
    del chat_id, user_id
    return None


CARD_MEMORY_SECONDS = 15 * 60.0
"""How long a card shown without the database replaces the stored one (see CardsShown)."""


@dataclass(slots=True)
class CardsShown:
    """Chats that were shown a crisis card while the database was down (bot/transport/offline.py).

    When the update is then stored, the patient has seen the card's numbers already: the
    stored path sends ``crisis_card_followup`` (the team has now been notified) instead of the
    whole card again. Kept in memory for :data:`CARD_MEMORY_SECONDS`: after longer, or after a
    restart, the whole card is shown again, which is the safe side.
    """

    chats: dict[int, float] = field(default_factory=dict)

    def add(self, chat_id: int) -> None:
        """A card went to this chat without the database."""
        self.chats[chat_id] = time.monotonic()
        if len(self.chats) > 10_000:
            self.chats.pop(next(iter(self.chats)))

    def take(self, chat_id: int) -> bool:
        """Whether this chat saw a card without the database lately (forgotten once asked)."""
        shown = self.chats.pop(chat_id, None)
        return shown is not None and time.monotonic() - shown < CARD_MEMORY_SECONDS


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
    the composition root asks Telegram (bot.transport.channel)."""
    member_status: Callable[[int, int], Awaitable[str | None]] = field(default=_membership_unknown)
    """A person's ChatMember status in a group (``creator``, ``administrator``, ``member``
    ...), None when Telegram could not say; the composition root asks Telegram
    (bot.transport.channel).
    Unwired, nobody is a group administrator (clinician commands fail closed)."""
    cards_shown: CardsShown = field(default_factory=CardsShown)
    """Crisis cards shown while the database was down, so the stored path does not repeat."""

    def card_or_followup(self, chat_id: int, card: CardKind) -> CardKind:
        """The card template to queue for a chat: ``card``, or the follow-up when the chat saw
        the card while the database was down (one place for the rule, see CardsShown)."""
        return "crisis_card_followup" if self.cards_shown.take(chat_id) else card

    def outbound(self, uow: UnitOfWork, now: datetime) -> Outbound:
        """The helper that renders and queues this transaction's messages."""
        return Outbound(uow, now, self.renderer)

    def locale_for(self, language_code: str | None, fallback: str) -> str:
        """Return the locale to talk to someone in: theirs when we have it, else the fallback."""
        if language_code:
            short = language_code.split("-")[0].lower()
            if short in self.renderer.locales:
                return short
        return fallback

"""What the bot does for a patient while the database is down (issue 13, item 2).

An update that cannot be stored is not taken: the webhook answers 503 and the poller does
not confirm it, so Telegram hands it over again and it is handled normally once the database
is back (its alert is raised then). Meanwhile the patient must not be left alone:

- crisis words in a text, or a check-in answer whose rule shows the crisis (or emergency)
  card, get the card at once, sent straight to Telegram (the outbox is in the database);
- a tap that could not be stored is answered that it is not saved yet and will be saved by
  itself once the database is back (the update is fetched or sent again), so the button
  stops spinning and the patient knows not to tap again.

Each update gets this once, however often it is tried again (remembered here by update id).
What the card needs comes from memory: the patient's locale and cohort region
(``storage.directory``), the check-in's questionnaire, the configured rules. A patient not
seen since start-up gets the card in their Telegram language with the cohort's region when
the bot serves one cohort, else the international numbers. The card does not say the team
was notified: it has not been yet.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import TypeVar

from telegram import Bot, Update
from telegram.error import TelegramError

from bot.config import AppConfig
from bot.domain.alerts import evaluate_answer
from bot.domain.callback_data import AnswerButton, BadCallbackDataError, decode
from bot.domain.checkin import named_item
from bot.domain.crisis_words import CrisisMatcher
from bot.services.alerts.crisis_card import (
    CardKind,
    card_of,
    card_without_team,
    patient_region,
)
from bot.services.runtime import CardsShown
from prompts.render import Renderer
from storage.directory import Directory

logger = logging.getLogger(__name__)
_V = TypeVar("_V")

MAX_REMEMBERED = 10_000
GENERIC_REGION = "OTHER"
"""The region whose card lists the international numbers (see prompts' crisis_card)."""


class OfflineResponder:
    """Answers, without the database, what cannot wait for it."""

    def __init__(
        self,
        bot: Bot,
        renderer: Renderer,
        config: AppConfig,
        matcher: CrisisMatcher,
        *,
        directory: Directory,
        cards_shown: CardsShown,
    ) -> None:
        self._bot = bot
        self._renderer = renderer
        self._config = config
        self._matcher = matcher
        self._directory = directory
        self._cards_shown = cards_shown
        self._carded: OrderedDict[int, int] = OrderedDict()
        """Update id -> chat id of the updates whose card went out from here."""
        self._told: OrderedDict[int, None] = OrderedDict()
        """Update ids whose tap was answered "could not save"."""
        self.cards_sent = 0
        self.taps_refused = 0

    def carded(self, update_id: int) -> bool:
        """Whether this update's card was shown from here already."""
        return update_id in self._carded

    async def slow(self, update: Update) -> None:
        """The update is taking long (a database that hangs): show its card now, if it has one."""
        await self._card(update)

    async def unstored(self, update: Update) -> None:
        """The update could not be stored: show its card, and answer a tap."""
        await self._card(update)
        query = update.callback_query
        if query is None or update.update_id in self._told:
            return
        _remember(self._told, update.update_id, None)
        self.taps_refused += 1
        locale = self._locale(query.message.chat.id if query.message else None, query.from_user)
        try:
            await self._bot.answer_callback_query(
                query.id, text=self._renderer.render("could_not_save", locale)
            )
        except TelegramError as exc:
            logger.warning(
                "could not answer a tap while the database is down: %s",
                type(exc).__name__,
                extra={"update_id": update.update_id},
            )

    async def _card(self, update: Update) -> None:
        if update.update_id in self._carded:
            return
        found = self._card_for(update)
        if found is None:
            return
        chat_id, card, locale, region = found
        _remember(self._carded, update.update_id, chat_id)
        try:
            await self._bot.send_message(
                chat_id,
                card_without_team(self._renderer, self._config.regions, card, locale, region),
            )
        except TelegramError as exc:
            # Forget it: the next attempt at the update tries again.
            self._carded.pop(update.update_id, None)
            logger.error(  # noqa: TRY400 - the Bot API failed, not our code
                "could not show a crisis card while the database is down: %s",
                type(exc).__name__,
                extra={"update_id": update.update_id},
            )
            return
        self.cards_sent += 1
        self._cards_shown.add(chat_id)
        logger.warning(
            "crisis card shown without the database; its alert waits for it",
            extra={"update_id": update.update_id},
        )

    def _card_for(self, update: Update) -> tuple[int, CardKind, str, str] | None:
        """(chat, card template, locale, region) when the update calls for a card."""
        message = update.message
        if message is not None and message.chat.type == "private":
            text = message.text or message.caption
            if text and self._matcher.matches(text):
                return (
                    message.chat.id,
                    "crisis_card",
                    *self._place(message.chat.id, message.from_user),
                )
            return None
        query = update.callback_query
        if query is None or query.message is None or query.data is None:
            return None
        if query.message.chat.type != "private":
            return None
        card = self._card_of_tap(query.data)
        if card is None:
            return None
        chat_id = query.message.chat.id
        return (chat_id, card, *self._place(chat_id, query.from_user))

    def _card_of_tap(self, data: str) -> CardKind | None:
        """The card a check-in answer shows (the one rule: ``crisis_card.card_of``)."""
        try:
            button = decode(data)
        except BadCallbackDataError:
            return None
        if not isinstance(button, AnswerButton):
            return None  # only single answers carry their value; a multi-select's is stored
        key = self._directory.questionnaire(button.checkin_id)
        questionnaire = self._config.questionnaires.get(key) if key else None
        item = named_item(questionnaire, button.item) if questionnaire else None
        if item is None:
            return None
        return card_of(evaluate_answer(self._config.rules, item.id, button.value))

    def _place(self, chat_id: int, user: object) -> tuple[str, str]:
        """(locale, region) for a chat: the patient's if seen, else the best guess."""
        known = self._directory.patient(chat_id)
        if known is not None:
            cohort_region = self._directory.region(known.cohort_id)
            if cohort_region is None and len(self._config.cohorts) == 1:
                cohort_region = self._config.cohorts[0].region
            region = patient_region(
                self._config.regions,
                known.region,
                known.timezone,
                cohort_region or GENERIC_REGION,
            )
            return known.locale, region
        return self._locale(chat_id, user), (
            self._config.cohorts[0].region if len(self._config.cohorts) == 1 else GENERIC_REGION
        )

    def _locale(self, chat_id: int | None, user: object) -> str:
        known = self._directory.patient(chat_id) if chat_id is not None else None
        if known is not None:
            return known.locale
        code = getattr(user, "language_code", None)
        short = code.split("-")[0].lower() if isinstance(code, str) and code else ""
        if short in self._renderer.locales:
            return short
        if len(self._config.cohorts) == 1:
            return self._config.cohorts[0].locale
        return "en"


def _remember(store: OrderedDict[int, _V], key: int, value: _V) -> None:
    store[key] = value
    while len(store) > MAX_REMEMBERED:
        store.popitem(last=False)

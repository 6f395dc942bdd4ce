"""The typed callback context: handlers reach services through ``context.services``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from telegram import CallbackQuery, Message, Update, User
from telegram.error import BadRequest
from telegram.ext import CallbackContext, ExtBot

from bot.domain.callback_data import BadCallbackDataError, decode
from bot.services.container import Services

SERVICES_KEY = "services"
logger = logging.getLogger(__name__)


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """CallbackContext with typed access to the application services."""

    @property
    def services(self) -> Services:
        """Return the services the composition root attached to the application."""
        services = self.application.bot_data[SERVICES_KEY]
        assert isinstance(services, Services)  # noqa: S101 - set once at build time
        return services


class NotApplicable(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The update lacks what a handler needs (e.g. a channel post without a sender)."""


def require_message(update: Update) -> Message:
    """Return the update's message, or stop the handler."""
    if update.effective_message is None:
        raise NotApplicable
    return update.effective_message


def require_user(update: Update) -> User:
    """Return the update's sender, or stop the handler."""
    if update.effective_user is None:
        raise NotApplicable
    return update.effective_user


def require_query(update: Update) -> CallbackQuery:
    """Return the update's callback query, or stop the handler."""
    if update.callback_query is None:
        raise NotApplicable
    return update.callback_query


async def answer(query: CallbackQuery, text: str | None) -> None:
    """Answer a tap, so the patient's button stops spinning.

    A query answered already (while the database was down: bot/transport/offline.py said "could not
    save that") or too old to answer (a tap handled again after an outage) is not a failure:
    the tap's work is committed by now, and the patient has seen a reply.
    """
    try:
        await query.answer(text=text)
    except BadRequest as exc:
        if "query is too old" not in exc.message and "query id is invalid" not in exc.message:
            raise
        logger.debug("tap answered already or too old to answer")


class Unhandled:
    """What a button action returns for data it does not act on: the tap is refused."""


UNHANDLED = Unhandled()
ButtonAction = Callable[[object, int, int], Awaitable[str | Unhandled | None]]
"""(decoded button data, chat id, message id) -> the short notice for the tapper."""


def tapped(update: Update, chat_types: Collection[str]) -> tuple[object, int, int] | None:
    """(decoded data, chat id, message id) of a button tapped in one of these kinds of chat;
    None for a button in another kind of chat or data that does not decode (forged, or from
    an older version)."""
    query = update.callback_query
    if query is None or query.message is None or query.data is None:
        return None
    if query.message.chat.type not in chat_types:
        return None
    try:
        data = decode(query.data)
    except BadCallbackDataError:
        return None
    return data, query.message.chat.id, query.message.message_id


async def refuse(update: Update, context: BotContext) -> None:
    """Answer a tap with ``button_refused``: nothing was done."""
    await answer(
        require_query(update), context.services.runtime.renderer.render("button_refused", "en")
    )


async def on_button(
    update: Update, context: BotContext, chat_types: Collection[str], act: ButtonAction
) -> None:
    """Decode a tapped button's data, let ``act`` handle it, and always answer the tap.

    A button in another kind of chat, data that does not decode (forged, or from an older
    version) and data ``act`` does not handle are refused with ``button_refused``. The tap
    is always answered, or the app keeps showing a spinner on the button.
    """
    query = require_query(update)
    tap = tapped(update, chat_types)
    toast = UNHANDLED if tap is None else await act(*tap)
    if isinstance(toast, Unhandled):
        await refuse(update, context)
    else:
        await answer(query, toast)

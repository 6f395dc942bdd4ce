"""The typed callback context: handlers reach services through ``context.services``."""

from __future__ import annotations

import logging
from typing import Any

from telegram import CallbackQuery, Message, Update, User
from telegram.error import BadRequest
from telegram.ext import CallbackContext, ExtBot

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

    A query answered already (while the database was down: bot/offline.py said "could not
    save that") or too old to answer (a tap handled again after an outage) is not a failure:
    the tap's work is committed by now, and the patient has seen a reply.
    """
    try:
        await query.answer(text=text)
    except BadRequest as exc:
        if "query is too old" not in exc.message and "query id is invalid" not in exc.message:
            raise
        logger.debug("tap answered already or too old to answer")

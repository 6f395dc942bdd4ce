"""The gate in front of every handler for messages in private chats: people who are not
enrolled get a few answers a minute, then none (``bot.services.patient.strangers``)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from handlers.context import BotContext


async def gate(update: Update, context: BotContext) -> None:
    """Stop a stranger's message over the limits before any handler (or the database) sees
    it. Button taps are not gated: only messages the bot sent carry buttons."""
    message = update.message
    user = update.effective_user
    if message is None or user is None or message.chat.type != "private":
        return
    if not await context.services.strangers.admit(user.id, message.text or message.caption):
        raise ApplicationHandlerStop

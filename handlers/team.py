"""Provider-group handlers for the care team's messages to patients: a reply to a group
message (drafts a message), and Send / Cancel on the draft
(bot.services.provider.team_messages)."""

from __future__ import annotations

from telegram import Update

from bot.domain.callback_data import TeamMessageButton
from handlers.context import (
    UNHANDLED,
    BotContext,
    Unhandled,
    on_button,
    require_message,
    require_user,
)

_GROUPS = ("group", "supergroup")


async def reply(update: Update, context: BotContext) -> None:
    """A text that replies to one of the bot's messages in a group: the service decides
    whether that message is about a patient (anything else is ignored)."""
    message, user = require_message(update), require_user(update)
    replied = message.reply_to_message
    if replied is None or message.text is None or message.chat.type not in _GROUPS:
        return
    if replied.from_user is None or replied.from_user.id != context.bot.id:
        return  # a reply to a colleague, not to the bot
    await context.services.team_messages.reply(
        update.update_id,
        chat_id=message.chat_id,
        user_id=user.id,
        first_name=user.first_name,
        message_id=message.message_id,
        replied_to=replied.message_id,
        text=message.text,
    )


async def button(update: Update, context: BotContext) -> None:
    """Send or Cancel on a drafted message: the service checks group, message and author."""
    user = require_user(update)

    async def press(data: object, chat_id: int, message_id: int) -> str | Unhandled | None:
        if not isinstance(data, TeamMessageButton):
            return UNHANDLED
        return await context.services.team_messages.press(
            update.update_id,
            data,
            user_id=user.id,
            first_name=user.first_name,
            chat_id=chat_id,
            message_id=message_id,
        )

    await on_button(update, context, _GROUPS, press)

"""Provider-group handlers for the care team's messages to patients: a reply to a group
message (drafts a message), and Send / Cancel on the draft (bot.services.team_messages)."""

from __future__ import annotations

from telegram import Update

from bot.domain.callback_data import BadCallbackDataError, TeamMessageButton, decode
from handlers.context import BotContext, answer, require_message, require_query, require_user

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
    query = require_query(update)
    user = require_user(update)
    services = context.services
    toast: str | None = services.runtime.renderer.render("button_refused", "en")
    message = query.message
    if message is not None and query.data is not None and message.chat.type in _GROUPS:
        try:
            data = decode(query.data)
        except BadCallbackDataError:
            data = None
        if isinstance(data, TeamMessageButton):
            toast = await services.team_messages.press(
                update.update_id,
                data,
                user_id=user.id,
                first_name=user.first_name,
                chat_id=message.chat.id,
                message_id=message.message_id,
            )
    # Always answer, or the provider's app keeps showing a spinner on the button.
    await answer(query, toast)

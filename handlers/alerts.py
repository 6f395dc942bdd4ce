"""Provider-group handlers: Acknowledge, Resolve and follow-up actions on alert messages."""

from __future__ import annotations

from telegram import Update

from bot.domain.callback_data import AlertButton, FollowUpButton
from handlers.context import UNHANDLED, BotContext, Unhandled, on_button, require_user

_GROUPS = ("group", "supergroup")


async def button(update: Update, context: BotContext) -> None:
    """A tap on an alert's button: the service checks the group, the alert and the message."""
    user = require_user(update)

    async def press(data: object, chat_id: int, message_id: int) -> str | Unhandled | None:
        match data:
            case AlertButton():
                return await context.services.alert_actions.press(
                    update.update_id,
                    data,
                    user_id=user.id,
                    first_name=user.first_name,
                    chat_id=chat_id,
                    message_id=message_id,
                )
            case FollowUpButton():
                return await context.services.alert_actions.follow_up(
                    update.update_id,
                    data,
                    user_id=user.id,
                    chat_id=chat_id,
                    message_id=message_id,
                )
        return UNHANDLED

    await on_button(update, context, _GROUPS, press)

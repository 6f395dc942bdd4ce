"""Provider-group handlers: Acknowledge, Resolve and follow-up actions on alert messages."""

from __future__ import annotations

from telegram import Update

from bot.domain.callback_data import AlertButton, BadCallbackDataError, FollowUpButton, decode
from handlers.context import BotContext, answer, require_query, require_user

_GROUPS = ("group", "supergroup")


async def button(update: Update, context: BotContext) -> None:
    """A tap on an alert's button: the service checks the group, the alert and the message."""
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
        if isinstance(data, AlertButton):
            toast = await services.alert_actions.press(
                update.update_id,
                data,
                user_id=user.id,
                first_name=user.first_name,
                chat_id=message.chat.id,
                message_id=message.message_id,
            )
        elif isinstance(data, FollowUpButton):
            toast = await services.alert_actions.follow_up(
                update.update_id,
                data,
                user_id=user.id,
                chat_id=message.chat.id,
                message_id=message.message_id,
            )
    # Always answer, or the provider's app keeps showing a spinner on the button.
    await answer(query, toast)

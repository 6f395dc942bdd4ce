"""Provider commands (typed in a cohort's provider group): parse, call the service.

Where a command counts is the service's decision (the group must be a cohort's provider
group); this adapter only reads the update.
"""

from __future__ import annotations

from telegram import Update

from bot.services.provider.commands import COMMANDS, ProviderCall
from handlers.context import BotContext, require_message, require_user

GROUP_COMMANDS = COMMANDS
"""Handled in groups (a cohort's own group runs them; any other group is refused)."""
PRIVATE_REFUSED = tuple(name for name in COMMANDS if name not in {"pause", "resume", "help"})
"""Refused in private chats. /pause, /resume and /help are patient commands there."""


async def command(update: Update, context: BotContext) -> None:
    """Every provider command (bot.services.provider.commands.COMMANDS)."""
    user, message = require_user(update), require_message(update)
    name = (message.text or "").split(maxsplit=1)[0].lstrip("/").split("@", 1)[0].lower()
    if name not in COMMANDS:
        return
    await context.services.provider.command(
        ProviderCall(
            update_id=update.update_id,
            chat_id=message.chat_id,
            chat_type=message.chat.type,
            user_id=user.id,
            language_code=user.language_code,
            name=name,
            args=tuple(context.args or ()),
            bot_username=context.bot.username,
            first_name=user.first_name,
        )
    )

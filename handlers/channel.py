"""The provider group's own news: it moved to a supergroup, or the bot was removed, restricted
or added back. Parse the update, call the service (bot.services.provider.provider_channel)."""

from __future__ import annotations

from telegram import Update

from bot.transport.channel import member_problem
from handlers.context import BotContext, require_message


async def migration(update: Update, context: BotContext) -> None:
    """``migrate_to_chat_id`` (in the old group) or ``migrate_from_chat_id`` (in the new)."""
    message = require_message(update)
    if message.migrate_to_chat_id is not None:
        old, new = message.chat_id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id is not None:
        old, new = message.migrate_from_chat_id, message.chat_id
    else:
        return
    await context.services.provider_channel.follow(
        update.update_id, old, new, source="service message"
    )


async def my_member(update: Update, context: BotContext) -> None:
    """The bot's own membership of a group changed."""
    changed = update.my_chat_member
    if changed is None or changed.chat.type not in {"group", "supergroup"}:
        return
    channel = context.services.provider_channel
    problem = member_problem(changed.new_chat_member)
    if problem is None:
        await channel.reachable(changed.chat.id, source="my_chat_member")
    else:
        await channel.lost(changed.chat.id, problem)

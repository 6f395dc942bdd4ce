"""The transport side of provider channel health: asking Telegram whether the bot can post in
each cohort's group (at start-up, and periodically while a group is lost) and whether it may
write to a provider privately. What follows from the answers is
``bot.services.provider.provider_channel``'s; the judgement of a membership is
``bot.domain.group_access``'s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Bot, ChatMember, ChatMemberRestricted
from telegram.constants import ChatAction
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError

from bot.config import ConfigError
from bot.domain.group_access import posting_problem
from bot.services.provider.provider_channel import ProviderChannel

logger = logging.getLogger(__name__)


class GroupCheckError(ConfigError):
    """The bot cannot post in a cohort's provider group: the bot does not start."""


@dataclass(frozen=True, slots=True)
class GroupState:
    """What Telegram said of one group."""

    chat_id: int
    """Where the group is (after following a migration)."""
    problem: str | None
    """Why the bot cannot post there; None when it can."""
    definite: bool = True
    """False when Telegram could not be asked (network): nothing should follow from it."""


def member_problem(member: ChatMember) -> str | None:
    """Why a bot with this membership cannot post (None: it can)."""
    can_send = member.can_send_messages if isinstance(member, ChatMemberRestricted) else None
    return posting_problem(member.status, can_send_messages=can_send)


class GroupAccess:
    """Asks Telegram about the bot in each cohort's group."""

    def __init__(self, bot: Bot, channel: ProviderChannel) -> None:
        self._bot = bot
        self._channel = channel

    async def state(self, chat_id: int, *, source: str) -> GroupState:
        """Can the bot post in ``chat_id``? A migration is followed (and recorded) first."""
        for _ in range(3):  # a migrated group, then its supergroup (never more in practice)
            try:
                await self._bot.get_chat(chat_id)
                member = await self._bot.get_chat_member(chat_id, self._bot.id)
            except ChatMigrated as exc:
                await self._channel.follow(None, chat_id, exc.new_chat_id, source=source)
                chat_id = exc.new_chat_id
                continue
            except Forbidden as exc:
                return GroupState(chat_id, f"forbidden ({exc.message})")
            except BadRequest as exc:
                return GroupState(chat_id, exc.message)
            except TelegramError as exc:
                return GroupState(chat_id, f"{type(exc).__name__}: {exc.message}", definite=False)
            return GroupState(chat_id, member_problem(member))
        return GroupState(chat_id, "the group keeps moving (ChatMigrated)", definite=False)

    async def check_at_start(self) -> None:
        """Every configured cohort's group must let the bot post, or the bot stops with one
        line naming the cohort and the reason. A group that was lost and is fine now is
        marked reachable (what was held goes out)."""
        for name, chat_id, lost in await self._channel.groups():
            if name not in self._channel.configured:
                continue  # left out of the configuration: nothing is sent there
            state = await self.state(chat_id, source="startup")
            if state.problem is not None:
                raise GroupCheckError(
                    f"cohort {name!r}: the bot cannot post in its provider group "
                    f"{state.chat_id}: {state.problem} (add the bot to the group, or fix "
                    "provider_chat_id)"
                )
            if lost:
                await self._channel.reachable(state.chat_id, source="startup")

    async def probe(self) -> int:
        """Ask again about every lost group (the periodic job); return how many are back."""
        back = 0
        for name, chat_id, lost in await self._channel.groups():
            if not lost:
                continue
            state = await self.state(chat_id, source="probe")
            if state.problem is None:
                back += await self._channel.reachable(state.chat_id, source="probe")
            elif state.definite:
                logger.info("provider group of %s still unreachable: %s", name, state.problem)
        return back

    async def member_status(self, chat_id: int, user_id: int) -> str | None:
        """A person's status in a group (bot.services.provider.roles); None when Telegram could not
        say (network, server error, the group gone): clinician commands then fail closed."""
        try:
            member = await self._bot.get_chat_member(chat_id, user_id)
        except BadRequest as exc:
            if "participant_id_invalid" in exc.message.lower() or "user not found" in (
                exc.message.lower()
            ):
                return "left"  # Telegram knows no such member: definitely no administrator
            logger.warning("could not ask Telegram for a group membership: %s", exc.message)
            return None
        except TelegramError as exc:
            logger.warning("could not ask Telegram for a group membership: %s", type(exc).__name__)
            return None
        return str(member.status)

    async def private_chat_open(self, user_id: int) -> bool:
        """Whether the bot may write to this user (they started it and did not block it).
        A chat action is the lightest call that Telegram refuses with 403 otherwise."""
        try:
            await self._bot.send_chat_action(user_id, ChatAction.TYPING)
        except Forbidden:
            return False
        except TelegramError:
            logger.warning("could not ask whether a provider's private chat is open")
            return True  # unknown: register them; a relay that fails is counted as forbidden
        return True

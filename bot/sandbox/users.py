"""Simulated Telegram users and groups that talk to the bot through the fake server.

A user's actions become updates the bot receives through ``getUpdates``; what the bot
sends back is visible on the user's handle (``messages``, ``last_message``,
``callback_answers``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.sandbox.groups import migrate, set_bot_status, set_member_status
from bot.sandbox.html import utf16_len
from bot.sandbox.state import (
    BotMessage,
    CallbackAnswer,
    ChatState,
    PendingCallback,
    SandboxState,
    TranscriptEvent,
)

__all__ = ["ButtonNotFoundError", "GroupMember", "SimGroup", "SimUser"]


class ButtonNotFoundError(LookupError):
    """Raised by ``press`` when no message in the chat has a button with that label."""


def _describe_buttons(chat: ChatState, limit: int = 5) -> str:
    shown: list[str] = []
    for message in reversed(chat.messages.values()):
        if message.deleted or not message.reply_markup:
            continue
        labels = " ".join(f"[{label}]" for label in message.labels)
        shown.append(f"#{message.message_id} {labels}")
        if len(shown) >= limit:
            break
    return "; ".join(shown) if shown else "no message with an inline keyboard"


class _Actor:
    """A user acting in one chat (their private chat or a group)."""

    def __init__(self, state: SandboxState, user_id: int, chat: ChatState) -> None:
        self._state = state
        self.id = user_id
        self.chat = chat

    @property
    def user_json(self) -> dict[str, Any]:
        """The Bot API ``User`` object of this user."""
        return self._state.users[self.id]

    @property
    def name(self) -> str:
        """The user's first name."""
        return str(self.user_json["first_name"])

    @property
    def chat_id(self) -> int:
        """The chat this handle acts in."""
        return self.chat.chat_id

    async def send_text(self, text: str, *, reply_to: int | None = None) -> int:
        """Send a text message to the bot.

        Text starting with ``/`` gets a ``bot_command`` entity over its first word, as
        Telegram clients add (``CommandHandler`` needs it). ``reply_to``: the id of a message
        of the bot in this chat that this one replies to (Telegram's "reply"); the update
        carries it as ``reply_to_message``.

        Returns:
            The ``update_id`` of the queued update.
        """
        state, chat = self._state, self.chat
        message_id = chat.take_message_id()
        chat.user_message_ids.add(message_id)
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": self.user_json,
            "chat": chat.chat_json,
            "date": state.now_unix(),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
            ]
        if reply_to is not None:
            original = chat.messages.get(reply_to)
            if original is None:
                raise LookupError(f"chat {chat.chat_id} has no bot message #{reply_to}")
            message["reply_to_message"] = original.to_api(chat.chat_json, state.bot_user)
        state.add_event(chat, "user_message", self.name, text, message_id=message_id)
        update_id = state.enqueue({"message": message})
        # Give the bot's long-poll a chance to run, as a real network round trip would.
        await asyncio.sleep(0)
        return update_id

    async def edit_text(self, text: str, message_id: int | None = None) -> int:
        """Edit a text message this user sent (by default their newest), as Telegram clients
        do: the bot gets an ``edited_message`` update with the new text.

        Returns:
            The ``update_id`` of the queued update.
        """
        state, chat = self._state, self.chat
        if message_id is None:
            if not chat.user_message_ids:
                raise LookupError(f"user {self.id} has sent no message in chat {chat.chat_id}")
            message_id = max(chat.user_message_ids)
        elif message_id not in chat.user_message_ids:
            raise LookupError(f"user {self.id} did not send message #{message_id}")
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": self.user_json,
            "chat": chat.chat_json,
            "date": state.now_unix(),
            "edit_date": state.now_unix(),
            "text": text,
        }
        state.add_event(chat, "user_edit", self.name, text, message_id=message_id)
        update_id = state.enqueue({"edited_message": message})
        await asyncio.sleep(0)
        return update_id

    def _find_button(self, label: str, message_id: int | None) -> tuple[BotMessage, str]:
        chat = self.chat
        if message_id is not None:
            message = chat.messages.get(message_id)
            if message is None or message.deleted:
                raise ButtonNotFoundError(
                    f"chat {chat.chat_id} has no bot message #{message_id} "
                    f"(buttons: {_describe_buttons(chat)})"
                )
            candidates = [message]
        else:
            candidates = [m for m in reversed(chat.messages.values()) if not m.deleted]
        for message in candidates:
            for row in message.buttons:
                for text, data in row:
                    if text != label:
                        continue
                    if data is None:
                        raise ButtonNotFoundError(
                            f"button [{label}] in message #{message.message_id} has no "
                            "callback_data (URL or other non-callback button)"
                        )
                    return message, data
        where = f"message #{message_id}" if message_id is not None else f"chat {chat.chat_id}"
        raise ButtonNotFoundError(
            f"no button [{label}] in {where}; buttons: {_describe_buttons(chat)}"
        )

    async def press(self, label: str, *, message_id: int | None = None) -> int:
        """Press the inline button labelled ``label``.

        Args:
            label: The button text.
            message_id: The message to press it in; default: the newest message of the
                chat whose inline keyboard has that label.

        Returns:
            The ``update_id`` of the queued ``callback_query`` update.

        Raises:
            ButtonNotFoundError: If no such callback button exists.
        """
        message, data = self._find_button(label, message_id)
        return await self._send_callback(message.message_id, data, label, forged=False)

    async def press_data(self, message_id: int, data: str) -> int:
        """Send a callback query with arbitrary ``data`` for ``message_id`` (stale/forged).

        The message need not exist; then the update carries an inaccessible message.
        """
        return await self._send_callback(message_id, data, None, forged=True)

    async def _send_callback(
        self, message_id: int, data: str, label: str | None, *, forged: bool
    ) -> int:
        state, chat = self._state, self.chat
        message = chat.messages.get(message_id)
        if message is not None and not message.deleted:
            message_json = state.message_json(chat, message)
        else:
            # Telegram's InaccessibleMessage: date 0 tells the bot it cannot see the message.
            message_json = {"chat": chat.chat_json, "message_id": message_id, "date": 0}
        query_id = state.new_callback_id()
        state.callbacks[query_id] = PendingCallback(
            query_id, chat.chat_id, self.id, message_id, data
        )
        state.add_event(
            chat,
            "button_press",
            self.name,
            label if label is not None else data,
            message_id=message_id,
            data=data,
            detail="forged" if forged else "",
        )
        update_id = state.enqueue(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.user_json,
                    "message": message_json,
                    "chat_instance": f"sandbox-ci-{chat.chat_id}",
                    "data": data,
                }
            }
        )
        await asyncio.sleep(0)
        return update_id

    @property
    def messages(self) -> list[BotMessage]:
        """Current state of the bot's messages in this chat, oldest first (deleted included)."""
        return list(self.chat.messages.values())

    @property
    def last_message(self) -> BotMessage | None:
        """The newest bot message in this chat that is not deleted."""
        return self.chat.newest_message()

    def transcript(self) -> list[TranscriptEvent]:
        """Events of this chat, in order."""
        return list(self.chat.transcript)


class SimUser(_Actor):
    """A Telegram user in a private chat with the bot (chat id == user id)."""

    def __init__(self, state: SandboxState, user_id: int) -> None:
        super().__init__(state, user_id, state.chats[user_id])

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """Answers to this user's button presses in the private chat."""
        return list(self.chat.callback_answers)

    @property
    def blocked(self) -> bool:
        """Whether the user has blocked the bot."""
        return self.chat.blocked

    def block_bot(self) -> None:
        """Block the bot: message methods to this chat then fail with 403."""
        self.chat.blocked = True

    def unblock_bot(self) -> None:
        """Unblock the bot."""
        self.chat.blocked = False

    def __repr__(self) -> str:
        return f"SimUser(id={self.id}, name={self.name!r})"


class GroupMember(_Actor):
    """A user acting inside a group chat (messages and presses come from the group)."""

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """Answers to this member's button presses in the group."""
        return [a for a in self.chat.callback_answers if a.user_id == self.id]

    def __repr__(self) -> str:
        return f"GroupMember(id={self.id}, name={self.name!r}, group={self.chat.name!r})"


class SimGroup:
    """A group chat the bot is a member of."""

    def __init__(self, state: SandboxState, chat_id: int) -> None:
        self._state = state
        self.chat = state.chats[chat_id]

    @property
    def chat_id(self) -> int:
        """The group's (negative) chat id."""
        return self.chat.chat_id

    @property
    def title(self) -> str:
        """The group's title."""
        return self.chat.name

    def member(
        self,
        user_id: int,
        first_name: str = "Member",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        status: str | None = None,
    ) -> GroupMember:
        """Add (or get) a member who can send messages and press buttons in the group.

        The member is also a registered user with a private chat with the bot. ``status``:
        their ChatMember status (``creator``, ``administrator``, ``member`` ...); None keeps
        the one they have (``member`` when new).
        """
        self._state.register_user(user_id, first_name, last_name, username, language_code)
        if status is not None or user_id not in self.chat.members:
            set_member_status(self.chat, user_id, status or "member")
        return GroupMember(self._state, user_id, self.chat)

    def set_status(self, user_id: int, status: str) -> None:
        """Promote, demote or remove someone (``administrator``, ``member``, ``left`` ...)."""
        set_member_status(self.chat, user_id, status)

    @property
    def messages(self) -> list[BotMessage]:
        """Current state of the bot's messages in the group, oldest first."""
        return list(self.chat.messages.values())

    @property
    def last_message(self) -> BotMessage | None:
        """The newest bot message in the group that is not deleted."""
        return self.chat.newest_message()

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """Answers to button presses in the group, by any member."""
        return list(self.chat.callback_answers)

    def transcript(self) -> list[TranscriptEvent]:
        """Events of this group, in order."""
        return list(self.chat.transcript)

    # -- what can happen to the group (``bot.sandbox.groups``) ----------------------------

    @property
    def bot_status(self) -> str:
        """The bot's membership: member, left, kicked or restricted."""
        return self.chat.bot_status

    def migrate(self, new_chat_id: int | None = None, *, notify: bool = True) -> SimGroup:
        """Telegram turns the group into a supergroup: returns the supergroup (default id
        ``-100<old digits>``); the old id answers ChatMigrated from now on. ``notify=False``:
        without the service messages."""
        supergroup = migrate(self._state, self.chat, new_chat_id, notify=notify)
        return SimGroup(self._state, supergroup.chat_id)

    def remove_bot(self, *, kicked: bool = True, notify: bool = True) -> int | None:
        """An admin removes the bot (kicked, or it just left): calls answer 403. Returns the
        ``my_chat_member`` update id (None with ``notify=False``)."""
        status = "kicked" if kicked else "left"
        return set_bot_status(self._state, self.chat, status, notify=notify)

    def restrict_bot(self, *, notify: bool = True) -> int | None:
        """An admin takes the bot's right to send messages: sends answer 400."""
        return set_bot_status(self._state, self.chat, "restricted", notify=notify)

    def add_bot_back(self, *, notify: bool = True) -> int | None:
        """An admin adds the bot again (or lifts its restriction)."""
        return set_bot_status(self._state, self.chat, "member", notify=notify)

    def __repr__(self) -> str:
        return f"SimGroup(id={self.chat_id}, title={self.title!r})"

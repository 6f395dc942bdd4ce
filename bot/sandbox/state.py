"""In-memory state of the fake Bot API: chats, bot messages, updates and transcripts.

Nothing here does I/O; the HTTP layer (``server``) and the simulated users (``users``)
both work on one ``SandboxState``. Its pending updates are an ``update_queue.UpdateQueue``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.sandbox.notify import ChangeNotifier
from bot.sandbox.update_queue import UpdateQueue

__all__ = [
    "BotMessage",
    "CallbackAnswer",
    "ChatState",
    "EventKind",
    "PendingCallback",
    "RequestRecord",
    "SandboxState",
    "TranscriptEvent",
    "Violation",
    "Webhook",
    "WebhookDelivery",
]

EventKind = Literal[
    "user_message",
    "user_edit",
    "button_press",
    "bot_message",
    "bot_edit",
    "bot_delete",
    "callback_answer",
]
MessageKind = Literal["text", "photo", "document"]


@dataclass(slots=True)
class Webhook:
    """What ``setWebhook`` set.

    Attributes:
        url: Where updates are posted ("" when no webhook is set).
        secret_token: Sent in ``X-Telegram-Bot-Api-Secret-Token`` when not empty.
        max_connections: As given (the sandbox posts one update at a time regardless).
        last_error_date: Unix time of the last failed delivery.
        last_error_message: Why it failed.
    """

    url: str = ""
    secret_token: str = ""
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One attempt to post an update to the webhook.

    Attributes:
        update_id: The update posted.
        url: Where it was posted.
        status: The HTTP status answered (None: no answer, see ``error``).
        error: Why it failed, for non-2xx answers and connection errors.
        secret_sent: Whether the secret header went with it.
        time: Monotonic time of the attempt.
    """

    update_id: int
    url: str
    status: int | None
    error: str | None
    secret_sent: bool
    time: float


@dataclass(frozen=True, slots=True)
class Violation:
    """A request the real Bot API would have rejected.

    Attributes:
        method: Method name as requested.
        field: Offending parameter path (``""`` for the whole request).
        problem: What is wrong.
    """

    method: str
    field: str
    problem: str


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One entry of the server's request log.

    Attributes:
        method: Canonical method name (as requested when unknown).
        params: Decoded parameters (raw ones when validation failed).
        status: HTTP status sent, or ``None`` when the connection was dropped.
        fault: Label of the injected fault, if any.
        time: Monotonic time the request arrived.
        description: Error description for non-2xx answers.
    """

    method: str
    params: Mapping[str, Any]
    status: int | None
    fault: str | None
    time: float
    description: str | None = None


@dataclass(slots=True)
class BotMessage:
    """The current state of one message the bot sent.

    Attributes:
        message_id: Id within its chat.
        chat_id: The chat it lives in.
        kind: ``"text"``, ``"photo"`` or ``"document"``.
        text: Plain text (the caption for media) after parse_mode.
        html: Text or caption exactly as sent (raw HTML with parse_mode HTML).
        parse_mode: The parse_mode it was sent or last edited with.
        entities: Entities derived from the markup.
        reply_markup: The inline keyboard, or ``None``.
        reply_keyboard: A custom reply keyboard sent with it, if any.
        date: Unix time it was sent.
        sent_at: Monotonic time it was sent.
        edits: Earlier plain texts, oldest first.
        edit_date: Unix time of the last edit.
        deleted: ``True`` once the bot deleted it.
        document: Uploaded bytes for documents and photos sent as files.
        filename: Uploaded file name.
        file_ref: File id or URL when the media was sent by reference.
    """

    message_id: int
    chat_id: int
    kind: MessageKind
    text: str
    html: str
    parse_mode: str | None
    entities: tuple[dict[str, object], ...]
    reply_markup: dict[str, Any] | None
    date: int
    sent_at: float
    reply_keyboard: dict[str, Any] | None = None
    edits: list[str] = field(default_factory=list)
    edit_date: int | None = None
    deleted: bool = False
    document: bytes | None = None
    filename: str | None = None
    file_ref: str | None = None

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Inline keyboard as rows of ``(label, callback_data)``; data is None for URL buttons."""
        if not self.reply_markup:
            return []
        return [
            [(str(b.get("text", "")), b.get("callback_data")) for b in row]
            for row in self.reply_markup.get("inline_keyboard", [])
        ]

    @property
    def labels(self) -> list[str]:
        """All inline button labels, row by row."""
        return [label for row in self.buttons for label, _ in row]

    def to_api(self, chat_json: Mapping[str, Any], bot_user: Mapping[str, Any]) -> dict[str, Any]:
        """Render as a Bot API ``Message`` object."""
        message: dict[str, Any] = {
            "message_id": self.message_id,
            "from": bot_user,
            "chat": chat_json,
            "date": self.date,
        }
        text_key, entities_key = ("text", "entities")
        if self.kind != "text":
            text_key, entities_key = ("caption", "caption_entities")
            unique = f"{self.chat_id}_{self.message_id}"
            size = len(self.document) if self.document is not None else 1024
            file_id = self.file_ref or f"sandbox-{self.kind}-{unique}"
            base = {"file_id": file_id, "file_unique_id": f"u{unique}", "file_size": size}
            if self.kind == "photo":
                message["photo"] = [{**base, "width": 320, "height": 240}]
            else:
                message["document"] = {
                    **base,
                    "file_name": self.filename or "document",
                    "mime_type": "application/octet-stream",
                }
        if self.text or self.kind == "text":
            message[text_key] = self.text
        if self.entities:
            message[entities_key] = list(self.entities)
        if self.reply_markup is not None:
            message["reply_markup"] = self.reply_markup
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        return message


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    """An ``answerCallbackQuery`` call.

    Attributes:
        query_id: The callback query answered.
        user_id: Who pressed the button.
        message_id: The message whose button was pressed (None if unknown).
        data: The callback data of the press.
        text: Notification text ("" when none).
        show_alert: Whether an alert was requested.
        url: URL passed, if any.
        time: Monotonic time of the answer.
    """

    query_id: str
    user_id: int
    message_id: int | None
    data: str
    text: str
    show_alert: bool
    url: str | None
    time: float


@dataclass(frozen=True, slots=True)
class TranscriptEvent:
    """One line of a chat transcript.

    Attributes:
        kind: What happened.
        chat_id: Where it happened.
        time: Monotonic timestamp.
        seq: Global order of events across chats.
        actor: ``"bot"`` or the user's display name.
        text: Message text, button label or answer text.
        message_id: The message concerned, if any.
        buttons: Inline button labels by row, for bot messages and edits.
        data: Callback data, for presses.
        detail: Extra rendering hint (media label, ``alert``, ``forged``, ``keyboard``).
        target: For callback answers, the name of the user who pressed.
    """

    kind: EventKind
    chat_id: int
    time: float
    seq: int
    actor: str
    text: str
    message_id: int | None = None
    buttons: tuple[tuple[str, ...], ...] = ()
    data: str | None = None
    detail: str = ""
    target: str = ""


@dataclass(slots=True)
class ChatState:
    """One chat the bot can talk to.

    Attributes:
        chat_id: Telegram chat id (positive for private chats, negative for groups).
        type: ``"private"``, ``"group"`` or ``"supergroup"``.
        name: Display name (the user's first name or the group's title).
        chat_json: Bot API ``Chat`` object.
        messages: Bot messages by id, in sending order.
        user_message_ids: Ids of messages the users sent.
        callback_answers: Answers to button presses in this chat.
        transcript: Events in order.
        blocked: For private chats, whether the user blocked the bot.
        bot_status: For groups, the bot's membership: member, left, kicked or restricted
            (see ``groups``).
        migrated_to: For a group Telegram turned into a supergroup, the new chat id.
        members: For groups, people's statuses by user id (creator, administrator, member,
            restricted, left, kicked; see ``groups``).
    """

    chat_id: int
    type: str
    name: str
    chat_json: dict[str, Any]
    messages: dict[int, BotMessage] = field(default_factory=dict)
    user_message_ids: set[int] = field(default_factory=set)
    callback_answers: list[CallbackAnswer] = field(default_factory=list)
    transcript: list[TranscriptEvent] = field(default_factory=list)
    blocked: bool = False
    next_message_id: int = 1
    bot_status: str = "member"
    migrated_to: int | None = None
    members: dict[int, str] = field(default_factory=dict)

    def take_message_id(self) -> int:
        """Allocate the next message id (users and the bot share one sequence per chat)."""
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def newest_message(self) -> BotMessage | None:
        """The newest bot message that has not been deleted."""
        for message in reversed(self.messages.values()):
            if not message.deleted:
                return message
        return None

    def clear(self) -> None:
        """Forget messages, answers and transcript (ids keep increasing)."""
        self.messages.clear()
        self.user_message_ids.clear()
        self.callback_answers.clear()
        self.transcript.clear()


@dataclass(slots=True)
class PendingCallback:
    """A callback query sent to the bot and whether it has been answered."""

    query_id: str
    chat_id: int
    user_id: int
    message_id: int | None
    data: str
    answered: bool = False


class SandboxState:
    """Everything the fake server remembers.

    Args:
        bot_user: The bot's ``User`` object.
        clock: Monotonic time for timestamps.
        wall_clock: Unix time for message dates.
        notifier: Woken after every change.
        auto_register_chats: Treat any unknown positive chat id as a private chat.
    """

    def __init__(
        self,
        bot_user: dict[str, Any],
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        notifier: ChangeNotifier,
        auto_register_chats: bool = False,
    ) -> None:
        self.bot_user = bot_user
        self.clock = clock
        self.wall_clock = wall_clock
        self.notifier = notifier
        self.auto_register_chats = auto_register_chats
        self.chats: dict[int, ChatState] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.updates = UpdateQueue()
        self.callbacks: dict[str, PendingCallback] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.webhook = Webhook()
        self._seq = itertools.count()
        self._callback_ids = itertools.count(1)

    def now_unix(self) -> int:
        """Current Unix time as Telegram's ``date`` fields carry it."""
        return int(self.wall_clock())

    def register_user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> ChatState:
        """Create (or return) a user and their private chat with the bot."""
        if user_id <= 0:
            raise ValueError(f"user ids are positive, got {user_id}")
        if user_id not in self.users:
            user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
            chat: dict[str, Any] = {"id": user_id, "type": "private", "first_name": first_name}
            for key, value in (
                ("last_name", last_name),
                ("username", username),
                ("language_code", language_code),
            ):
                if value is not None:
                    user[key] = value
                    if key != "language_code":
                        chat[key] = value
            self.users[user_id] = user
            self.chats[user_id] = ChatState(user_id, "private", first_name, chat)
        return self.chats[user_id]

    def register_group(self, chat_id: int, title: str, chat_type: str = "group") -> ChatState:
        """Create (or return) a group chat the bot is a member of."""
        if chat_id >= 0:
            raise ValueError(f"group chat ids are negative, got {chat_id}")
        if chat_type not in {"group", "supergroup"}:
            raise ValueError(f"group type must be 'group' or 'supergroup', got {chat_type!r}")
        if chat_id not in self.chats:
            chat_json = {"id": chat_id, "type": chat_type, "title": title}
            self.chats[chat_id] = ChatState(chat_id, chat_type, title, chat_json)
        return self.chats[chat_id]

    def find_chat(self, chat_id: object) -> ChatState | None:
        """Look a chat up by decoded ``chat_id``; auto-registers when configured."""
        if not isinstance(chat_id, int) or isinstance(chat_id, bool):
            return None
        chat = self.chats.get(chat_id)
        if chat is None and self.auto_register_chats and chat_id > 0:
            chat = self.register_user(chat_id, f"User{chat_id}")
        return chat

    def add_event(
        self, chat: ChatState, kind: EventKind, actor: str, text: str, **extra: Any
    ) -> None:
        """Append a transcript event to ``chat``."""
        chat.transcript.append(
            TranscriptEvent(
                kind, chat.chat_id, self.clock(), next(self._seq), actor, text, **extra
            )
        )

    def enqueue(self, body: Mapping[str, Any]) -> int:
        """Queue an update for ``getUpdates`` and wake waiters; returns its ``update_id``."""
        update_id = self.updates.push(body)
        self.notifier.notify()
        return update_id

    @property
    def webhook_url(self) -> str:
        """The webhook URL ("" when updates wait for ``getUpdates``)."""
        return self.webhook.url

    def new_callback_id(self) -> str:
        """A fresh callback query id."""
        return f"sandbox-cq-{next(self._callback_ids)}"

    def message_json(self, chat: ChatState, message: BotMessage) -> dict[str, Any]:
        """Bot API ``Message`` for a bot message in ``chat``."""
        return message.to_api(chat.chat_json, self.bot_user)

    def reset(self) -> None:
        """Forget messages, transcripts, callbacks and pending updates; keep users and chats."""
        for chat in self.chats.values():
            chat.clear()
        self.callbacks.clear()
        self.updates.clear()
        self.updates.history.clear()

"""Bot API method implementations over ``SandboxState``.

Each handler gets validated, decoded parameters and returns the ``result`` of a successful
call, or raises ``ApiError`` with the status and description the real Bot API would send.
``getUpdates`` is only partly here: its long-poll wait lives in the HTTP layer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from bot.sandbox.groups import access_error, administrators_json, bot_member_json, member_json
from bot.sandbox.html import ParsedText
from bot.sandbox.spec import UploadedFile
from bot.sandbox.state import (
    BotMessage,
    CallbackAnswer,
    ChatState,
    MessageKind,
    SandboxState,
    Webhook,
)

__all__ = ["HANDLERS", "NOT_MODIFIED", "ApiError", "Handler", "get_updates_now"]

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
CHAT_NOT_FOUND = "Bad Request: chat not found"
BLOCKED = "Forbidden: bot was blocked by the user"
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)

HTTPS_REQUIRED = "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
SECRET_INVALID = "Bad Request: secret token contains unallowed characters"  # noqa: S105 - an error text
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Hosts the sandbox posts webhooks to; it never contacts anything beyond this machine."""
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")

Params = Mapping[str, Any]
Texts = Mapping[str, ParsedText]
Handler = Callable[[SandboxState, Params, Texts], object]


class ApiError(Exception):
    """A Bot API error answer.

    Args:
        status: HTTP status and ``error_code``.
        description: The ``description`` field.
        parameters: Optional ``parameters`` (e.g. ``retry_after``).
    """

    def __init__(
        self, status: int, description: str, parameters: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = dict(parameters) if parameters else None

    def payload(self) -> dict[str, Any]:
        """The JSON body of the error answer."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _chat(state: SandboxState, params: Params, *, writable: bool = True) -> ChatState:
    chat = state.find_chat(params.get("chat_id"))
    if chat is None:
        raise ApiError(400, CHAT_NOT_FOUND)
    if writable and chat.blocked:
        raise ApiError(403, BLOCKED)
    if chat.type != "private":
        error = access_error(chat, writable=writable)
        if error is not None:
            raise ApiError(*error)
    return chat


def _markups(params: Params) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Split ``reply_markup`` into (inline keyboard, other reply markup)."""
    markup = params.get("reply_markup")
    if not isinstance(markup, dict):
        return None, None
    if "inline_keyboard" in markup:
        # An empty inline keyboard is no keyboard, as in Telegram.
        return (markup if markup["inline_keyboard"] else None), None
    return None, markup


def _labels(message: BotMessage) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(label for label, _ in row) for row in message.buttons)


def _entities(parsed: ParsedText, explicit: object) -> tuple[dict[str, object], ...]:
    if isinstance(explicit, list):
        return tuple(e for e in explicit if isinstance(e, dict))
    return parsed.entities


def _store(state: SandboxState, chat: ChatState, message: BotMessage, detail: str = "") -> object:
    chat.messages[message.message_id] = message
    state.add_event(
        chat,
        "bot_message",
        "bot",
        message.text,
        message_id=message.message_id,
        buttons=_labels(message),
        detail=detail,
    )
    return state.message_json(chat, message)


def send_message(state: SandboxState, params: Params, texts: Texts) -> object:
    """``sendMessage``."""
    chat = _chat(state, params)
    parsed = texts["text"]
    inline, other = _markups(params)
    message = BotMessage(
        message_id=chat.take_message_id(),
        chat_id=chat.chat_id,
        kind="text",
        text=parsed.text,
        html=params["text"],
        parse_mode=params.get("parse_mode"),
        entities=_entities(parsed, params.get("entities")),
        reply_markup=inline,
        reply_keyboard=other,
        date=state.now_unix(),
        sent_at=state.clock(),
    )
    return _store(state, chat, message)


def _send_media(state: SandboxState, params: Params, texts: Texts, kind: MessageKind) -> object:
    chat = _chat(state, params)
    media = params[kind]
    parsed = texts.get("caption", ParsedText(""))
    inline, other = _markups(params)
    message = BotMessage(
        message_id=chat.take_message_id(),
        chat_id=chat.chat_id,
        kind=kind,
        text=parsed.text,
        html=params.get("caption", ""),
        parse_mode=params.get("parse_mode"),
        entities=_entities(parsed, params.get("caption_entities")),
        reply_markup=inline,
        reply_keyboard=other,
        date=state.now_unix(),
        sent_at=state.clock(),
    )
    if isinstance(media, UploadedFile):
        message.document = media.data
        message.filename = media.filename
    else:
        message.file_ref = str(media)
    label = f"[{kind} {message.filename or message.file_ref}]"
    return _store(state, chat, message, detail=label)


def send_photo(state: SandboxState, params: Params, texts: Texts) -> object:
    """``sendPhoto``."""
    return _send_media(state, params, texts, "photo")


def send_document(state: SandboxState, params: Params, texts: Texts) -> object:
    """``sendDocument``."""
    return _send_media(state, params, texts, "document")


def _message_to_edit(state: SandboxState, params: Params) -> tuple[ChatState, BotMessage]:
    if "inline_message_id" in params:
        raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID (the sandbox has no inline messages)")
    chat = _chat(state, params)
    message = chat.messages.get(params["message_id"])
    if message is None or message.deleted:
        raise ApiError(400, "Bad Request: message to edit not found")
    return chat, message


def edit_message_text(state: SandboxState, params: Params, texts: Texts) -> object:
    """``editMessageText``; without ``reply_markup`` the inline keyboard is removed."""
    chat, message = _message_to_edit(state, params)
    if message.kind != "text":
        raise ApiError(400, "Bad Request: there is no text in the message to edit")
    parsed = texts["text"]
    entities = _entities(parsed, params.get("entities"))
    inline, _ = _markups(params)
    if (message.text, message.entities, message.reply_markup) == (parsed.text, entities, inline):
        raise ApiError(400, NOT_MODIFIED)
    message.edits.append(message.text)
    message.text = parsed.text
    message.html = params["text"]
    message.parse_mode = params.get("parse_mode")
    message.entities = entities
    message.reply_markup = inline
    message.edit_date = state.now_unix()
    state.add_event(
        chat,
        "bot_edit",
        "bot",
        message.text,
        message_id=message.message_id,
        buttons=_labels(message),
    )
    return state.message_json(chat, message)


def edit_message_reply_markup(state: SandboxState, params: Params, texts: Texts) -> object:
    """``editMessageReplyMarkup``; without ``reply_markup`` the keyboard is removed."""
    del texts
    chat, message = _message_to_edit(state, params)
    inline, _ = _markups(params)
    if message.reply_markup == inline:
        raise ApiError(400, NOT_MODIFIED)
    message.reply_markup = inline
    message.edit_date = state.now_unix()
    state.add_event(
        chat,
        "bot_edit",
        "bot",
        message.text,
        message_id=message.message_id,
        buttons=_labels(message),
        detail="keyboard",
    )
    return state.message_json(chat, message)


def delete_message(state: SandboxState, params: Params, texts: Texts) -> object:
    """``deleteMessage`` for bot messages and users' messages."""
    del texts
    chat = _chat(state, params, writable=False)
    message_id = params["message_id"]
    message = chat.messages.get(message_id)
    if message is not None and not message.deleted:
        message.deleted = True
        state.add_event(chat, "bot_delete", "bot", message.text, message_id=message_id)
        return True
    if message_id in chat.user_message_ids:
        chat.user_message_ids.discard(message_id)
        return True
    raise ApiError(400, "Bad Request: message to delete not found")


def answer_callback_query(state: SandboxState, params: Params, texts: Texts) -> object:
    """``answerCallbackQuery``; a query can be answered once."""
    del texts
    pending = state.callbacks.get(params["callback_query_id"])
    if pending is None or pending.answered:
        raise ApiError(400, QUERY_INVALID)
    pending.answered = True
    answer = CallbackAnswer(
        query_id=pending.query_id,
        user_id=pending.user_id,
        message_id=pending.message_id,
        data=pending.data,
        text=params.get("text", ""),
        show_alert=bool(params.get("show_alert", False)),
        url=params.get("url"),
        time=state.clock(),
    )
    chat = state.chats[pending.chat_id]
    chat.callback_answers.append(answer)
    user = state.users.get(pending.user_id, {})
    state.add_event(
        chat,
        "callback_answer",
        "bot",
        answer.text,
        message_id=pending.message_id,
        detail="alert" if answer.show_alert else "",
        target=str(user.get("first_name", pending.user_id)),
    )
    return True


def send_chat_action(state: SandboxState, params: Params, texts: Texts) -> object:
    """``sendChatAction``."""
    del texts
    _chat(state, params)
    return True


def get_chat(state: SandboxState, params: Params, texts: Texts) -> object:
    """``getChat``, returning a minimal valid ``ChatFullInfo``."""
    del texts
    chat = _chat(state, params, writable=False)
    gifts = dict.fromkeys(
        (
            "unlimited_gifts",
            "limited_gifts",
            "unique_gifts",
            "premium_subscription",
            "gifts_from_channels",
        ),
        False,
    )
    return {
        **chat.chat_json,
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": gifts,
    }


def get_chat_member(state: SandboxState, params: Params, texts: Texts) -> object:
    """``getChatMember``: the bot's own membership, or a user's: in a group their status
    there (``left`` for a registered user the group does not know); a private chat has its
    one user."""
    del texts
    chat = _chat(state, params, writable=False)
    user_id = params["user_id"]
    if user_id == state.bot_user["id"]:
        return bot_member_json(state, chat)
    user = state.users.get(user_id)
    if user is None or (chat.type == "private" and chat.chat_id != user_id):
        raise ApiError(400, "Bad Request: PARTICIPANT_ID_INVALID")
    if chat.type == "private":
        return member_json(user, "member")
    return member_json(user, chat.members.get(user_id, "left"))


def get_chat_administrators(state: SandboxState, params: Params, texts: Texts) -> object:
    """``getChatAdministrators``: the group's creator and administrators."""
    del texts
    chat = _chat(state, params, writable=False)
    if chat.type == "private":
        raise ApiError(400, "Bad Request: there are no administrators in the private chat")
    return administrators_json(state, chat)


def get_me(state: SandboxState, params: Params, texts: Texts) -> object:
    """``getMe``."""
    del params, texts
    return state.bot_user


def _commands_key(params: Params) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code", ""))


def set_my_commands(state: SandboxState, params: Params, texts: Texts) -> object:
    """``setMyCommands``."""
    del texts
    state.commands[_commands_key(params)] = list(params["commands"])
    return True


def get_my_commands(state: SandboxState, params: Params, texts: Texts) -> object:
    """``getMyCommands``."""
    del texts
    return state.commands.get(_commands_key(params), [])


def delete_my_commands(state: SandboxState, params: Params, texts: Texts) -> object:
    """``deleteMyCommands``."""
    del texts
    state.commands.pop(_commands_key(params), None)
    return True


def set_webhook(state: SandboxState, params: Params, texts: Texts) -> object:
    """``setWebhook``: from now on the server posts updates there (see ``webhook.py``).

    Like Telegram it wants HTTPS, except that plain HTTP to this machine is accepted (a bot
    under test listens on 127.0.0.1). An empty URL removes the webhook.
    """
    del texts
    url = str(params["url"])
    if not url:
        return delete_webhook(state, params, {})
    parts = urlsplit(url)
    if parts.scheme != "https" and not (
        parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
    ):
        raise ApiError(400, HTTPS_REQUIRED)
    secret = str(params.get("secret_token", ""))
    if "secret_token" in params and not _SECRET.fullmatch(secret):
        raise ApiError(400, SECRET_INVALID)
    max_connections = int(params.get("max_connections", 40))
    if not 1 <= max_connections <= 100:
        raise ApiError(400, "Bad Request: bad webhook: max_connections must be 1-100")
    state.webhook = Webhook(url, secret, max_connections)
    state.updates.set_allowed(params.get("allowed_updates"))
    if params.get("drop_pending_updates"):
        state.updates.clear()
    return True


def delete_webhook(state: SandboxState, params: Params, texts: Texts) -> object:
    """``deleteWebhook``: updates wait for ``getUpdates`` again."""
    del texts
    state.webhook = Webhook()
    if params.get("drop_pending_updates"):
        state.updates.clear()
    return True


def get_webhook_info(state: SandboxState, params: Params, texts: Texts) -> object:
    """``getWebhookInfo``."""
    del params, texts
    hook = state.webhook
    info: dict[str, Any] = {
        "url": hook.url,
        "has_custom_certificate": False,
        "pending_update_count": state.updates.pending,
    }
    if hook.url:
        info["max_connections"] = hook.max_connections
    if hook.last_error_date is not None:
        info["last_error_date"] = hook.last_error_date
        info["last_error_message"] = hook.last_error_message
    return info


def ok_true(state: SandboxState, params: Params, texts: Texts) -> object:
    """``close`` and ``logOut``: nothing to do in the sandbox."""
    del state, params, texts
    return True


def get_updates_now(state: SandboxState, params: Params) -> list[dict[str, Any]]:
    """Confirm by ``offset`` and return what ``getUpdates`` would return right now.

    Raises:
        ApiError: 409 while a webhook is set.
    """
    if state.webhook_url:
        raise ApiError(409, WEBHOOK_ACTIVE)
    # Telegram clamps limit into 1-100 rather than rejecting it.
    limit = min(100, max(1, int(params.get("limit", 100))))
    state.updates.confirm(params.get("offset"))
    state.updates.set_allowed(params.get("allowed_updates"))
    return state.updates.peek(limit)


HANDLERS: dict[str, Handler] = {
    "getMe": get_me,
    "sendMessage": send_message,
    "sendPhoto": send_photo,
    "sendDocument": send_document,
    "editMessageText": edit_message_text,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "answerCallbackQuery": answer_callback_query,
    "sendChatAction": send_chat_action,
    "getChat": get_chat,
    "getChatMember": get_chat_member,
    "getChatAdministrators": get_chat_administrators,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "close": ok_true,
    "logOut": ok_true,
}
"""Synchronous handlers by canonical method name (``getUpdates`` is handled by the server)."""

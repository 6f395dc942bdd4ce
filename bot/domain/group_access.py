"""Can the bot post in a provider group? Judged from what Telegram says of the bot's own
membership (``getChatMember`` or a ``my_chat_member`` update) or from a refused send.

Pure: the transport turns Telegram's objects and errors into these plain values.
"""

from __future__ import annotations

POSTING_STATUSES = frozenset({"creator", "administrator", "member"})
"""Statuses in which a bot may post (an administrator's ``can_post_messages`` is a channel
right; in groups every member may post unless restricted)."""

_NO_RIGHT_PHRASES = (
    "not enough rights",
    "need administrator rights",
    "have no rights to send",
    "bot is not a member",
    "bot was kicked",
    "chat_write_forbidden",
    "chat not found",
)
"""Lower-case phrases of Telegram's 400 answers meaning the bot cannot post in a chat (as
opposed to a message it could never send, such as one too long)."""


def posting_problem(status: str, *, can_send_messages: bool | None = None) -> str | None:
    """Why the bot cannot post, given its membership; None when it can.

    ``can_send_messages`` matters only for ``restricted`` (Telegram leaves it out otherwise).
    """
    if status in POSTING_STATUSES:
        return None
    if status == "restricted":
        return None if can_send_messages else "restricted: may not send messages"
    if status == "kicked":
        return "removed from the group (kicked)"
    if status == "left":
        return "not a member of the group"
    return f"membership status {status!r}"


def refusal_means_no_access(description: str) -> bool:
    """Whether a 400 answer to a send says the bot cannot post in the chat at all."""
    lowered = description.lower()
    return any(phrase in lowered for phrase in _NO_RIGHT_PHRASES)

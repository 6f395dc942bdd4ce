"""What the page shows: each chat as a list of bubbles, as JSON.

A bot message is shown in its current state (edited in place, as in Telegram), at the place
it was first sent; the people's own messages come from the fake server's transcript. Text is
rebuilt as safe HTML from the plain text and the entities Telegram derived from the bot's
markup, so nothing the bot (or a patient) wrote can inject markup into the page.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from bot.sandbox.state import BotMessage, ChatState
from bot.tryout.world import World

__all__ = ["entities_html", "snapshot"]

# Entity type -> the tags it becomes. Links are shown, not followed: nothing leaves the
# machine from the page (an invite's t.me link is only text here).
_TAGS = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "spoiler": ('<span class="spoiler">', "</span>"),
    "code": ("<code>", "</code>"),
    "pre": ("<pre>", "</pre>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
    "expandable_blockquote": ("<blockquote>", "</blockquote>"),
    "text_link": ('<span class="link">', "</span>"),
}


def entities_html(text: str, entities: tuple[dict[str, object], ...]) -> str:
    """Escape ``text`` and wrap its entities (offsets in UTF-16 units) in HTML tags."""
    units = text.encode("utf-16-le")
    opens: dict[int, list[str]] = {}
    closes: dict[int, list[str]] = {}
    for entity in entities:
        tags = _TAGS.get(str(entity.get("type")))
        offset, length = entity.get("offset"), entity.get("length")
        if tags is None or not isinstance(offset, int) or not isinstance(length, int):
            continue
        opens.setdefault(offset, []).append(tags[0])
        # Entities nest (they come from well-formed markup): close inner ones first.
        closes.setdefault(offset + length, []).insert(0, tags[1])
    out: list[str] = []
    cuts = sorted({0, len(units) // 2, *opens, *closes})
    for start, end in pairwise(cuts):
        out.extend(closes.get(start, []))
        out.extend(opens.get(start, []))
        out.append(html.escape(units[start * 2 : end * 2].decode("utf-16-le", "replace")))
    out.extend(closes.get(len(units) // 2, []))
    return "".join(out)


def _time(unix: int | None) -> str:
    if unix is None:
        return ""
    return datetime.fromtimestamp(unix, UTC).isoformat()


def _bot_bubble(chat: ChatState, message: BotMessage) -> dict[str, Any]:
    file_url = None
    if message.kind != "text":
        file_url = f"/api/file/{chat.chat_id}/{message.message_id}"
    return {
        "id": message.message_id,
        "from": "bot",
        "kind": message.kind,
        "html": entities_html(message.text, message.entities),
        "buttons": [[label for label, _ in row] for row in message.buttons],
        "edited": message.edit_date is not None,
        "date": _time(message.edit_date or message.date),
        "file": file_url,
        "filename": message.filename or "",
    }


def chat_bubbles(chat: ChatState) -> list[dict[str, Any]]:
    """The chat's messages in the order they were first sent, bot messages as they are now."""
    bubbles: list[dict[str, Any]] = []
    for event in chat.transcript:
        if event.kind in {"user_message", "user_edit"} and event.message_id is not None:
            if event.kind == "user_edit":
                continue
            bubbles.append(
                {
                    "id": event.message_id,
                    "from": "user",
                    "who": event.actor,
                    "kind": "text",
                    "html": html.escape(event.text),
                    "buttons": [],
                    "edited": False,
                    "date": "",
                    "file": None,
                    "filename": "",
                }
            )
        elif event.kind == "bot_message" and event.message_id is not None:
            message = chat.messages.get(event.message_id)
            if message is not None and not message.deleted:
                bubbles.append(_bot_bubble(chat, message))
    return bubbles


def snapshot(world: World) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready values."""
    chats = world.server.state.chats
    now = world.clock.now()
    phones = [
        {
            "chat_id": phone.chat_id,
            "name": phone.user.name,
            "label": phone.label,
            "locale": phone.locale,
            "messages": chat_bubbles(chats[phone.chat_id]),
        }
        for phone in world.phones
    ]
    group = chats[world.group.chat_id]
    return {
        "now": now.isoformat(),
        "now_label": now.strftime("%a %d %b %Y, %H:%M UTC"),
        "status": world.status,
        "busy": world.lock.locked(),
        "phones": phones,
        "group": {
            "chat_id": group.chat_id,
            "title": group.name,
            "member": world.provider.name,
            "messages": chat_bubbles(group),
        },
    }

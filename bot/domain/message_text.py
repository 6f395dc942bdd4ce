"""What Telegram accepts as a message's text, and what its refusals mean.

Pure: no I/O. A message's text is 1-4,096 characters after entity parsing, counted in UTF-16
code units (``docs/operations.md``, "Messages Telegram refuses"): tags do not count, and an
entity such as ``&lt;`` is one character.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from bot.domain.alert_layout import TELEGRAM_TEXT_LIMIT

CONTENT_REJECTIONS: dict[str, tuple[str, ...]] = {
    "too_long": ("message is too long", "text is too long", "caption is too long"),
    "bad_markup": ("can't parse entities", "unsupported start tag", "can't find end tag"),
    "empty": ("message text is empty", "text must be non-empty", "message must be non-empty"),
}
"""Telegram's 400 descriptions that mean "this message's content can never be sent", by
the reason an operator sees (``moodcheck_messages_rejected_total{reason}``)."""


def utf16_len(text: str) -> int:
    """Return the length Telegram counts: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


_TAG = re.compile(r"<[^>]*>")


def visible_len(message: str) -> int:
    """Return the length Telegram counts of an HTML-mode message: without its tags, with
    its entities decoded, in UTF-16 code units. (Values are escaped by the templates, so a
    ``<`` a patient typed is ``&lt;`` here and never taken for a tag.)"""
    return utf16_len(html.unescape(_TAG.sub("", message)))


def cut_to_fit(
    render: Callable[[str, int], str], text: str, limit: int = TELEGRAM_TEXT_LIMIT
) -> str:
    """Render a message around ``text``, cutting ``text`` from its end until it fits.

    ``render(shown, cut)`` returns the whole message showing ``shown`` and saying that
    ``cut`` characters were left out (0: nothing was; the template then shows no marker).
    Measured as Telegram counts (:func:`visible_len`). Each step cuts at least as many
    characters as the message is over (each is at least one code unit of it), so a few
    renders suffice. A frame too long even with no text at
    all is returned as it is (the delivery worker then dead-letters it, visibly).
    """
    message = render(text, 0)
    keep = len(text)
    while keep > 0:
        over = visible_len(message) - limit
        if over <= 0:
            return message
        keep = max(0, keep - over)
        message = render(text[:keep], len(text) - keep)
    return message


def content_rejection(description: str) -> str | None:
    """Return why Telegram refused a message for its content (a 400 that no retry can
    change), or None when the refusal is about something else (the chat, the request)."""
    lowered = description.lower()
    for reason, phrases in CONTENT_REJECTIONS.items():
        if any(phrase in lowered for phrase in phrases):
            return reason
    return None

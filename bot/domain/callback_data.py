"""The callback-data codec: what an inline button carries back to us (1-64 bytes).

Format: ``<kind>|<field>|<field>...`` with short ASCII fields. It lives in the domain, not in
``handlers/``, because services compose keyboards inside the transaction that queues the
message (DESIGN.md principle 2), and services may not import handlers.

Decoding is total: any string either decodes to a typed value or raises
:class:`BadCallbackDataError`, which handlers answer with a refusal. Buttons can be forged by a
modified client, so nothing here is trusted beyond its shape; ownership is checked later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64
_VALUE = re.compile(r"[a-z0-9_]{1,16}")
_MAX_ID = 2**63 - 1


class BadCallbackDataError(ValueError):
    """Callback data we did not produce, or no longer understand."""


@dataclass(frozen=True, slots=True)
class AnswerButton:
    """A check-in answer: check-in id, item position, value."""

    checkin_id: int
    position: int
    value: str


@dataclass(frozen=True, slots=True)
class ConsentButton:
    """Agree (True) or decline (False) on an invite."""

    invite_id: int
    agree: bool


CallbackData = AnswerButton | ConsentButton


def _int(text: str) -> int:
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise BadCallbackDataError("not a plain decimal number")
    value = int(text)
    if value > _MAX_ID:
        raise BadCallbackDataError("number out of range")
    return value


def encode(data: CallbackData) -> str:
    """Encode a button's data; raise ValueError if it would not fit Telegram's 64 bytes."""
    match data:
        case AnswerButton(checkin_id, position, value):
            if not _VALUE.fullmatch(value):
                raise ValueError(f"answer value {value!r} is not short plain text")
            text = f"a|{checkin_id}|{position}|{value}"
        case ConsentButton(invite_id, agree):
            text = f"c|{invite_id}|{'y' if agree else 'n'}"
    if checkin_or_invite_negative(data):
        raise ValueError("ids and positions are never negative")
    if len(text.encode()) > MAX_BYTES:
        raise ValueError("callback data longer than 64 bytes")
    return text


def checkin_or_invite_negative(data: CallbackData) -> bool:
    """Tell whether any number in the data is negative (which we never produce)."""
    match data:
        case AnswerButton(checkin_id, position, _):
            return checkin_id < 0 or position < 0
        case ConsentButton(invite_id, _):
            return invite_id < 0


def decode(text: str) -> CallbackData:
    """Decode callback data, or raise BadCallbackDataError."""
    if not text or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise BadCallbackDataError("empty or too long")
    parts = text.split("|")
    match parts:
        case ["a", checkin_id, position, value] if _VALUE.fullmatch(value):
            return AnswerButton(_int(checkin_id), _int(position), value)
        case ["c", invite_id, ("y" | "n") as choice]:
            return ConsentButton(_int(invite_id), choice == "y")
    raise BadCallbackDataError("unknown shape")

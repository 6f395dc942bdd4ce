"""The callback-data codec: what an inline button carries back to us (1-64 bytes).

Format: ``<kind>|<field>|<field>...`` with short ASCII fields. It lives in the domain, not in
``handlers/``, because services compose keyboards inside the transaction that queues the
message (docs/architecture.md principle 2), and services may not import handlers.

Decoding is total: any string either decodes to a typed value or raises
:class:`BadCallbackDataError`, which handlers answer with a refusal. Buttons can be forged by
a modified client, so nothing here is trusted beyond its shape; ownership is checked later.

Check-in buttons name their question by its item id (``a|<check-in>|<item id>|<value>``), so
that a question added to a questionnaire does not change what a button already sent means. A
button sent before that carries the item's position instead (digits, where an id starts with
a letter): it decodes to that number, which the check-in resolves in its questionnaire
(``bot.domain.checkin.locate``; docs/architecture.md, "Questions are addressed by id").

Kinds: ``a`` answer, ``t`` toggle a multi-select option, ``d`` done with a multi-select,
``b`` back, ``k`` skip today, ``c`` consent, ``s`` a setting, ``y`` a confirmation step,
``g`` a provider's action on an alert in the group, ``p`` a tap on a side check (post-dose
check, optional items: answer, toggle or done), ``f`` a follow-up action recorded on an
alert, ``m`` a provider sending (or cancelling) a message to a patient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.questionnaire import ITEM_ID_PATTERN, VALUE_PATTERN

MAX_BYTES = 64
_VALUE = VALUE_PATTERN
_FIELD = re.compile(r"[a-z_]{1,12}")
_SETTING = re.compile(r"[A-Za-z0-9_/+:.-]{1,40}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,32}")
_MAX_ID = 2**63 - 1


class BadCallbackDataError(ValueError):
    """Callback data we did not produce, or no longer understand."""


ItemRef = str | int
"""The question a check-in button is about: its item id, or (``int``) the position a button
sent before buttons carried ids named."""


@dataclass(frozen=True, slots=True)
class AnswerButton:
    """A check-in answer: check-in id, item, value."""

    checkin_id: int
    item: ItemRef
    value: str


@dataclass(frozen=True, slots=True)
class ToggleButton:
    """Tick or untick one option of a multi-select item."""

    checkin_id: int
    item: ItemRef
    value: str


@dataclass(frozen=True, slots=True)
class DoneButton:
    """Finish a multi-select item with the options ticked so far."""

    checkin_id: int
    item: ItemRef


@dataclass(frozen=True, slots=True)
class BackButton:
    """Go back from ``item`` to change the answer before it."""

    checkin_id: int
    item: ItemRef


@dataclass(frozen=True, slots=True)
class SkipButton:
    """Skip today's check-in."""

    checkin_id: int


@dataclass(frozen=True, slots=True)
class ConsentButton:
    """Agree (True) or decline (False) on an invite."""

    invite_id: int
    agree: bool


@dataclass(frozen=True, slots=True)
class SettingButton:
    """Choose a value for a patient setting (e.g. field ``tz``, value ``Europe/London``)."""

    field: str
    value: str


@dataclass(frozen=True, slots=True)
class ConfirmButton:
    """One step of a confirmation (``/delete`` asks twice); step 0 means "no, cancel".

    ``token``: the confirmation the bot issued with the question (stored server-side, bound
    to the patient and the message; bot.services.patient.lifecycle). Empty on buttons made before
    tokens existed, which the service refuses.
    """

    action: str
    step: int
    token: str = ""


@dataclass(frozen=True, slots=True)
class AlertButton:
    """A provider's action on an alert: ``ack`` (acknowledge) or ``res`` (resolve)."""

    alert_id: int
    action: str


@dataclass(frozen=True, slots=True)
class SideButton:
    """A tap on a side check (bot.services.checkin.side_checks): ``a`` answer with ``value``,
    ``t`` tick or untick ``value`` on a multi-select, ``d`` done (``value`` empty)."""

    check_id: int
    position: int
    action: str
    value: str


@dataclass(frozen=True, slots=True)
class FollowUpButton:
    """A follow-up action recorded on an alert event (a key of prompts/follow_ups.yaml)."""

    alert_id: int
    action: str


@dataclass(frozen=True, slots=True)
class TeamMessageButton:
    """Send (``send`` True) or cancel a drafted message from the care team to a patient."""

    message_id: int
    send: bool


CallbackData = (
    AnswerButton
    | ToggleButton
    | DoneButton
    | BackButton
    | SkipButton
    | ConsentButton
    | SettingButton
    | ConfirmButton
    | AlertButton
    | SideButton
    | FollowUpButton
    | TeamMessageButton
)


def _int(text: str) -> int:
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise BadCallbackDataError("not a plain decimal number")
    value = int(text)
    if value > _MAX_ID:
        raise BadCallbackDataError("number out of range")
    return value


def _item(text: str) -> ItemRef:
    """An item id, or the position an older button carries (see the module's docstring)."""
    if ITEM_ID_PATTERN.fullmatch(text):
        return text
    return _int(text)


def _text(data: CallbackData) -> str:  # noqa: PLR0912 - one case per kind of button
    match data:
        case AnswerButton(checkin_id, item, value):
            return f"a|{checkin_id}|{item}|{value}"
        case ToggleButton(checkin_id, item, value):
            return f"t|{checkin_id}|{item}|{value}"
        case DoneButton(checkin_id, item):
            return f"d|{checkin_id}|{item}"
        case BackButton(checkin_id, item):
            return f"b|{checkin_id}|{item}"
        case SkipButton(checkin_id):
            return f"k|{checkin_id}"
        case ConsentButton(invite_id, agree):
            return f"c|{invite_id}|{'y' if agree else 'n'}"
        case SettingButton(field, value):
            return f"s|{field}|{value}"
        case ConfirmButton(action, step, token):
            return f"y|{action}|{step}|{token}" if token else f"y|{action}|{step}"
        case AlertButton(alert_id, action):
            return f"g|{alert_id}|{action}"
        case SideButton(check_id, position, "d", _):
            return f"p|{check_id}|{position}|d"
        case SideButton(check_id, position, action, value):
            return f"p|{check_id}|{position}|{action}|{value}"
        case FollowUpButton(alert_id, action):
            return f"f|{alert_id}|{action}"
        case TeamMessageButton(message_id, send):
            return f"m|{message_id}|{'s' if send else 'x'}"


def encode(data: CallbackData) -> str:
    """Encode a button's data; raise ValueError if we could not decode it back or it would
    not fit Telegram's 64 bytes."""
    text = _text(data)
    if len(text.encode()) > MAX_BYTES:
        raise ValueError("callback data longer than 64 bytes")
    try:
        decoded = decode(text)
    except BadCallbackDataError as exc:
        raise ValueError(f"{data!r} cannot be encoded: {exc}") from None
    if decoded != data:
        raise ValueError(f"{data!r} does not survive encoding")
    return text


def decode(text: str) -> CallbackData:  # noqa: PLR0912 - one case per kind of button
    """Decode callback data, or raise BadCallbackDataError."""
    if not text or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise BadCallbackDataError("empty or too long")
    match text.split("|"):
        case ["a", checkin_id, item, value] if _VALUE.fullmatch(value):
            return AnswerButton(_int(checkin_id), _item(item), value)
        case ["t", checkin_id, item, value] if _VALUE.fullmatch(value):
            return ToggleButton(_int(checkin_id), _item(item), value)
        case ["d", checkin_id, item]:
            return DoneButton(_int(checkin_id), _item(item))
        case ["b", checkin_id, item]:
            return BackButton(_int(checkin_id), _item(item))
        case ["k", checkin_id]:
            return SkipButton(_int(checkin_id))
        case ["c", invite_id, ("y" | "n") as choice]:
            return ConsentButton(_int(invite_id), choice == "y")
        case ["s", field, value] if _FIELD.fullmatch(field) and _SETTING.fullmatch(value):
            return SettingButton(field, value)
        case ["y", action, step] if _FIELD.fullmatch(action) and len(step) == 1:
            return ConfirmButton(action, _int(step))
        case ["y", action, step, token] if (
            _FIELD.fullmatch(action) and len(step) == 1 and _TOKEN.fullmatch(token)
        ):
            return ConfirmButton(action, _int(step), token)
        case ["g", alert_id, ("ack" | "res") as action]:
            return AlertButton(_int(alert_id), action)
        case ["p", check_id, position, "d"]:
            return SideButton(_int(check_id), _int(position), "d", "")
        case ["p", check_id, position, ("a" | "t") as action, value] if _VALUE.fullmatch(value):
            return SideButton(_int(check_id), _int(position), action, value)
        case ["f", alert_id, action] if _VALUE.fullmatch(action):
            return FollowUpButton(_int(alert_id), action)
        case ["m", message_id, ("s" | "x") as choice]:
            return TeamMessageButton(_int(message_id), choice == "s")
    raise BadCallbackDataError("unknown shape")

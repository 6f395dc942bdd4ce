"""Content rules the Bot API enforces beyond parameter types.

The machine-readable spec only says "String"; the limits live in prose ("1-4096
characters after entities parsing"). These rules apply in both validation modes (real
spec file and built-in table).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.sandbox.html import HtmlParseError, ParsedText, plain_text

__all__ = [
    "CALLBACK_ANSWER_MAX",
    "CALLBACK_DATA_MAX_BYTES",
    "CAPTION_MAX",
    "CHAT_ACTIONS",
    "OBJECT_RULES",
    "PARSE_MODES",
    "TEXT_MAX",
    "Problem",
    "check_method_rules",
]

TEXT_MAX = 4096
CAPTION_MAX = 1024
CALLBACK_ANSWER_MAX = 200
CALLBACK_DATA_MAX_BYTES = 64
PARSE_MODES = frozenset({"HTML", "MarkdownV2", "Markdown"})
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_TEXT_METHODS = frozenset({"sendMessage", "editMessageText"})
_EDIT_METHODS = frozenset({"editMessageText", "editMessageReplyMarkup", "editMessageCaption"})
# Exactly one of these must accompany an inline button's text.
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a request is invalid.

    Attributes:
        field: Dotted path of the offending parameter (``""`` for the request as a whole).
        message: Description as it follows ``Bad Request:`` in the answer.
    """

    field: str
    message: str


def _check_text(
    field: str,
    value: object,
    parse_mode: object,
    bounds: tuple[int, int],
    problems: list[Problem],
) -> ParsedText | None:
    if not isinstance(value, str):
        return None
    mode = parse_mode if isinstance(parse_mode, str) and parse_mode in PARSE_MODES else None
    try:
        parsed = plain_text(value, mode)
    except HtmlParseError as exc:
        problems.append(Problem(field, str(exc)))
        return None
    low, high = bounds
    length = len(parsed.text)
    if low > 0 and not parsed.text.strip():
        what = "message text" if field == "text" else f"message {field}"
        problems.append(Problem(field, f"{what} is empty"))
    elif length > high:
        what = "message" if field == "text" else f"message {field}"
        problems.append(
            Problem(
                field,
                f"{what} is too long: {length} characters after entity parsing, "
                f"at most {high} allowed",
            )
        )
    return parsed


def check_method_rules(
    method: str, params: Mapping[str, object]
) -> tuple[list[Problem], dict[str, ParsedText]]:
    """Apply the method-level content rules to decoded parameters.

    Args:
        method: Canonical (spec-cased) method name.
        params: Parameters after type decoding.

    Returns:
        The problems found and the parsed ``text``/``caption`` keyed by field name.
    """
    problems: list[Problem] = []
    parsed: dict[str, ParsedText] = {}
    parse_mode = params.get("parse_mode")
    if parse_mode is not None and parse_mode not in PARSE_MODES:
        problems.append(
            Problem(
                "parse_mode",
                f"unsupported parse_mode {parse_mode!r}: must be HTML, MarkdownV2 or Markdown",
            )
        )
    if method in _TEXT_METHODS and "text" in params:
        result = _check_text("text", params["text"], parse_mode, (1, TEXT_MAX), problems)
        if result is not None:
            parsed["text"] = result
    if "caption" in params:
        result = _check_text("caption", params["caption"], parse_mode, (0, CAPTION_MAX), problems)
        if result is not None:
            parsed["caption"] = result
    if method == "answerCallbackQuery":
        text = params.get("text")
        if isinstance(text, str) and len(text) > CALLBACK_ANSWER_MAX:
            problems.append(
                Problem(
                    "text",
                    f"callback answer text is too long: {len(text)} characters, "
                    f"at most {CALLBACK_ANSWER_MAX} allowed",
                )
            )
    if method == "sendChatAction":
        action = params.get("action")
        if isinstance(action, str) and action not in CHAT_ACTIONS:
            problems.append(Problem("action", f"wrong parameter action in request: {action!r}"))
    if method in _EDIT_METHODS:
        _check_edit_target(params, problems)
    if method == "editMessageText" and "text" not in params and "rich_message" not in params:
        problems.append(Problem("text", 'message text is empty: field "text" is required'))
    return problems, parsed


def _check_edit_target(params: Mapping[str, object], problems: list[Problem]) -> None:
    has_inline = "inline_message_id" in params
    has_chat = "chat_id" in params and "message_id" in params
    if has_inline == has_chat:
        problems.append(
            Problem(
                "message_id",
                "message identifier is not specified: pass chat_id and message_id, "
                "or inline_message_id (not both)",
            )
        )


def _inline_button_rule(value: Mapping[str, object], path: str) -> list[Problem]:
    problems: list[Problem] = []
    data = value.get("callback_data")
    if isinstance(data, str):
        size = len(data.encode("utf-8"))
        if not 1 <= size <= CALLBACK_DATA_MAX_BYTES:
            problems.append(
                Problem(
                    f"{path}.callback_data",
                    f"BUTTON_DATA_INVALID: callback_data must be 1-{CALLBACK_DATA_MAX_BYTES} "
                    f"bytes in UTF-8, got {size}",
                )
            )
    actions = [name for name in _BUTTON_ACTIONS if name in value]
    if len(actions) != 1:
        detail = "none" if not actions else ", ".join(actions)
        problems.append(
            Problem(
                path,
                "can't parse inline keyboard button: exactly one of "
                f"{', '.join(_BUTTON_ACTIONS[:3])}, ... must be set, got {detail}",
            )
        )
    text = value.get("text")
    if isinstance(text, str) and not text.strip():
        problems.append(Problem(f"{path}.text", "BUTTON_TEXT_INVALID: button text is empty"))
    return problems


def _bot_command_rule(value: Mapping[str, object], path: str) -> list[Problem]:
    problems: list[Problem] = []
    command = value.get("command")
    if isinstance(command, str) and not _COMMAND_RE.fullmatch(command):
        problems.append(
            Problem(
                f"{path}.command",
                f"BOT_COMMAND_INVALID: command {command!r} must be 1-32 characters of "
                "lowercase English letters, digits and underscores",
            )
        )
    description = value.get("description")
    if isinstance(description, str) and not 1 <= len(description.strip()) <= 256:
        problems.append(
            Problem(
                f"{path}.description",
                "BOT_COMMAND_DESCRIPTION_INVALID: description must be 1-256 characters",
            )
        )
    return problems


OBJECT_RULES: dict[str, Callable[[Mapping[str, object], str], list[Problem]]] = {
    "InlineKeyboardButton": _inline_button_rule,
    "BotCommand": _bot_command_rule,
}
"""Extra checks per object type, run after the object's fields validated."""

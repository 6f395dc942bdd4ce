"""Human-readable rendering of chat transcripts.

Example::

    Alice > /start abc
    bot > Welcome! Do you agree? [Agree] [Decline]
    Alice taps [Agree]
    bot answers Alice: "Thanks"
    bot edits #2 > Welcome! You agreed.
    bot -> Clinic A providers > Alert: Alice rated 2 [Acknowledge]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.sandbox.state import ChatState, TranscriptEvent

__all__ = ["render_events"]


_INDENT = "    "


def _body(text: str, buttons: tuple[tuple[str, ...], ...] = ()) -> str:
    """Message text with continuation lines indented, then the inline keyboard.

    The keyboard follows a one-line text on the same line and gets its own line otherwise.
    """
    lines = text.split("\n")
    # Continuation lines are indented so each event still starts at column 0.
    body = "\n".join([lines[0], *(f"{_INDENT}{line}" if line else "" for line in lines[1:])])
    rows = [" ".join(f"[{label}]" for label in row) for row in buttons if row]
    if not rows:
        return body
    keyboard = " / ".join(rows)
    return f"{body}\n{_INDENT}{keyboard}" if len(lines) > 1 else f"{body} {keyboard}"


def _where(chat: ChatState | None, multi: bool) -> str:
    """The ``-> name`` part naming the chat, when it is not obvious."""
    if chat is None:
        return ""
    if chat.type != "private" or multi:
        return f" -> {chat.name}"
    return ""


def _line(event: TranscriptEvent, chat: ChatState | None, multi: bool) -> str:
    in_group = chat is not None and chat.type != "private"
    kind = event.kind
    if kind == "user_message":
        place = f" @ {chat.name}" if in_group and chat is not None else ""
        return f"{event.actor}{place} > {_body(event.text)}"
    if kind == "user_edit":
        place = f" @ {chat.name}" if in_group and chat is not None else ""
        return f"{event.actor}{place} edits #{event.message_id} > {_body(event.text)}"
    if kind == "button_press":
        place = f" in {chat.name}" if in_group and chat is not None else ""
        if event.detail == "forged":
            return (
                f"{event.actor}{place} sends callback data {event.data!r} on #{event.message_id}"
            )
        return f"{event.actor} taps [{event.text}]{place}"
    if kind == "bot_message":
        text = " ".join(part for part in (event.detail, event.text) if part)
        return f"bot{_where(chat, multi)} > {_body(text, event.buttons)}"
    if kind == "bot_edit":
        place = f" in {chat.name}" if chat is not None and (in_group or multi) else ""
        if event.detail == "keyboard":
            keyboard = _body("", event.buttons).strip() or "(no keyboard)"
            return f"bot edits keyboard of #{event.message_id}{place} > {keyboard}"
        return f"bot edits #{event.message_id}{place} > {_body(event.text, event.buttons)}"
    if kind == "bot_delete":
        place = f" in {chat.name}" if chat is not None and (in_group or multi) else ""
        return f"bot deletes #{event.message_id}{place}"
    alert = " (alert)" if event.detail == "alert" else ""
    if event.text:
        return f'bot answers {event.target}: "{_body(event.text)}"{alert}'
    return f"bot answers {event.target} (no text){alert}"


def render_events(
    events: Iterable[TranscriptEvent],
    chats: Mapping[int, ChatState],
    *,
    multi: bool,
    with_times: bool = False,
) -> str:
    """Render events (already in order) one per line.

    Args:
        events: Events to render.
        chats: Chat states by id, for names and types.
        multi: Whether several chats are interleaved (then private chats are named too).
        with_times: Prefix each line with seconds since the first event.
    """
    lines: list[str] = []
    start: float | None = None
    for event in events:
        line = _line(event, chats.get(event.chat_id), multi)
        if with_times:
            start = event.time if start is None else start
            line = f"[{event.time - start:8.3f}s] {line}"
        lines.append(line)
    return "\n".join(lines)

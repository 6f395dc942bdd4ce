"""The digest's numbers for a locale: decimal comma, percent sign, signed changes and
durations, so that templates only place strings (pure, no I/O)."""

from __future__ import annotations

from datetime import timedelta

_DECIMAL_COMMA = frozenset({"es", "de", "fr", "it", "pt", "nl", "ru", "pl", "tr"})
_PERCENT_SPACE = frozenset({"es", "de", "fr"})
DASH = "\u2013"


def format_number(value: float | None, locale: str, digits: int = 1) -> str:
    """Return a number for a locale: ``4.5`` in English, ``4,5`` in Spanish; a dash for None."""
    if value is None:
        return DASH
    text = f"{value:.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text.replace(".", ",") if locale in _DECIMAL_COMMA else text


def format_signed(value: float | None, locale: str, digits: int = 1) -> str:
    """Return a change with its sign (``+1.5``, or a minus sign and ``2,0``); a dash for
    None."""
    if value is None:
        return DASH
    text = format_number(abs(value), locale, digits)
    if text == format_number(0, locale, digits):
        return "±" + text
    return ("+" if value > 0 else "\u2212") + text


def format_percent(ratio: float | None, locale: str) -> str:
    """Return a ratio as a whole percentage (``72%``; ``72 %`` in Spanish); a dash for None."""
    if ratio is None:
        return DASH
    number = f"{round(ratio * 100)}"
    return f"{number}\u00a0%" if locale in _PERCENT_SPACE else f"{number}%"


def format_duration(value: timedelta | None) -> str:
    """Return a duration as ``35 min``, ``2 h 05 min`` or ``3 d 4 h``; a dash for None."""
    if value is None:
        return DASH
    minutes = round(value.total_seconds() / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"

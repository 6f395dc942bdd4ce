"""The daily check-in as a small state machine over a questionnaire.

State is the position of the item being asked plus the answers stored so far; both live in the
database. These functions decide what a tap means, so handlers and services hold no rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.questionnaire import Item, Questionnaire


class CheckinStatus(StrEnum):
    """Where a check-in is in its life."""

    OPEN = "open"
    COMPLETED = "completed"
    STOPPED = "stopped"
    """Ended early because a safety answer needs a human, not more questions."""
    MISSED = "missed"


class TapVerdict(StrEnum):
    """What a tap on a check-in button means."""

    RECORD = "record"
    ALREADY_ANSWERED = "already_answered"
    CLOSED = "closed"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Tap:
    """A decoded tap: which check-in, which item position, which value."""

    checkin_id: int
    position: int
    value: str


def judge_tap(
    questionnaire: Questionnaire,
    *,
    status: CheckinStatus,
    window_open: bool,
    current_position: int,
    tap: Tap,
) -> TapVerdict:
    """Decide what to do with a tap, given the check-in's state.

    A tap for an item that is already behind us is a replay or a double tap: it changes
    nothing. A tap for an item ahead of the current one, or with a value the item does not
    offer, cannot come from a button we sent: it is refused.
    """
    if status is not CheckinStatus.OPEN or not window_open:
        return TapVerdict.CLOSED
    if not 0 <= tap.position < len(questionnaire.items):
        return TapVerdict.INVALID
    if tap.position < current_position:
        return TapVerdict.ALREADY_ANSWERED
    if tap.position > current_position:
        return TapVerdict.INVALID
    if not questionnaire.items[tap.position].accepts(tap.value):
        return TapVerdict.INVALID
    return TapVerdict.RECORD


def item_at(questionnaire: Questionnaire, position: int) -> Item | None:
    """Return the item at a position, or None when the questionnaire is done."""
    if 0 <= position < len(questionnaire.items):
        return questionnaire.items[position]
    return None

"""The daily check-in as a small state machine over a questionnaire.

State is the id of the item being asked (None once nothing is left to ask), the answers
stored so far, and (for a multi-select in progress) the ticked options; all of it lives in the
database. Buttons name their item by id too. Ids, not positions, so that a question added to
the questionnaire file while a check-in is open does not move it to another question
(docs/architecture.md, "Questions are addressed by id"). Within one call the rules work on
positions in the questionnaire as it is loaded now: :func:`standing` and :func:`locate` turn
the stored id and the button's into those, :func:`item_id_at` turns a position back.

These functions decide what a tap means and what comes next, so handlers and services hold
no rules.

A questionnaire may come in two parts (``Questionnaire.apart_from``: the weekly instruments
asked in a message of their own). Each part has its own progress and Back; the second takes
taps once the daily part is over (completed or skipped), while the position is inside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.callback_data import ItemRef
from bot.domain.questionnaire import Item, ItemKind, Questionnaire


class CheckinStatus(StrEnum):
    """Where a check-in is in its life."""

    OPEN = "open"
    COMPLETED = "completed"
    STOPPED = "stopped"
    """Ended early because a safety answer needs a human, not more questions."""
    SKIPPED = "skipped"
    """The patient chose "Skip today"."""
    PARTIAL = "partial"
    """The window closed with some items answered (those answers are kept)."""
    MISSED = "missed"
    """The window closed with nothing answered. Never stored as zeros."""


CLOSED = frozenset(
    {
        CheckinStatus.COMPLETED,
        CheckinStatus.STOPPED,
        CheckinStatus.SKIPPED,
        CheckinStatus.PARTIAL,
        CheckinStatus.MISSED,
    }
)


class TapVerdict(StrEnum):
    """What a tap on a check-in button means."""

    RECORD = "record"
    ALREADY_ANSWERED = "already_answered"
    CLOSED = "closed"
    INVALID = "invalid"
    NEED_SELECTION = "need_selection"
    """Done on a multi-select with nothing ticked."""
    SAFETY_NO_SKIP = "safety_no_skip"
    """Skip while a safety question is asked (its message never shows Skip)."""


@dataclass(frozen=True, slots=True)
class Tap:
    """A decoded tap: which check-in, which item, which value."""

    checkin_id: int
    item: ItemRef
    value: str


def locate(questionnaire: Questionnaire, ref: ItemRef) -> int | None:
    """Return the position of the item a button names, or None when there is no such item.

    A button names its item by id. One sent before buttons carried ids names it by its
    position then (``bot.domain.callback_data``), which is taken as it stands in the
    questionnaire now: the same item, as long as nothing was inserted before it since, and
    only buttons of check-ins opened before the upgrade carry one (they close with their day).
    """
    if isinstance(ref, int):
        return ref if 0 <= ref < len(questionnaire.items) else None
    return questionnaire.find(ref)


def named_item(questionnaire: Questionnaire, ref: ItemRef) -> Item | None:
    """Return the item a button names (None: no such item)."""
    position = locate(questionnaire, ref)
    return None if position is None else questionnaire.items[position]


def item_id_at(questionnaire: Questionnaire, position: int) -> str | None:
    """Return the id a check-in stores for a position: the item's, or None past the end (the
    check-in, or its part asked apart, has nothing left to ask)."""
    item = item_at(questionnaire, position)
    return None if item is None else item.id


def standing(questionnaire: Questionnaire, item: str | None) -> int | None:
    """Return the position of the item a check-in asks, from the id it stores (``item``; None:
    nothing left to ask, the end). None when the questionnaire no longer has that id (the
    item was taken out of the file while the check-in was open): see :func:`resume`."""
    if item is None:
        return len(questionnaire.items)
    return questionnaire.find(item)


def resume(questionnaire: Questionnaire, answers: Mapping[str, str]) -> int:
    """Return where a check-in goes on when the item it asked is no longer in its
    questionnaire: at the first item it would ask that has no answer yet (the end if none)."""
    return next(
        (
            p
            for p, asked in enumerate(questionnaire.items)
            if asked.id not in answers and is_visible(questionnaire, p, answers)
        ),
        len(questionnaire.items),
    )


def is_visible(questionnaire: Questionnaire, position: int, answers: Mapping[str, str]) -> bool:
    """Tell whether the item at a position is asked, given the answers so far."""
    condition = questionnaire.items[position].show_if
    return condition is None or condition.holds(answers)


def part_of(questionnaire: Questionnaire, position: int) -> range:
    """Return the positions of the part that asks the item at ``position``: the whole
    questionnaire, or (when its weekly part has a message of its own) the daily part or the
    weekly part."""
    split = questionnaire.apart_from
    end = len(questionnaire.items)
    if split is None:
        return range(end)
    return range(split) if position < split else range(split, end)


def next_position(
    questionnaire: Questionnaire, answers: Mapping[str, str], after: int
) -> int | None:
    """Return the next item to ask after a position, or None when its part is done (the
    whole check-in, or the part of it that one message asks)."""
    for position in range(after + 1, part_of(questionnaire, max(after, 0)).stop):
        if is_visible(questionnaire, position, answers):
            return position
    return None


def previous_position(
    questionnaire: Questionnaire, answers: Mapping[str, str], before: int
) -> int | None:
    """Return the item asked before a position (for Back), or None at the first one of its
    part: Back never reaches into a message that is already finished."""
    for position in range(before - 1, part_of(questionnaire, before).start - 1, -1):
        if is_visible(questionnaire, position, answers):
            return position
    return None


def first_position(questionnaire: Questionnaire) -> int:
    """Return the first item asked (the first one without a condition)."""
    found = next_position(questionnaire, {}, -1)
    if found is None:
        raise ValueError(f"questionnaire {questionnaire.id!r} asks nothing unconditionally")
    return found


def weekly_part_start(questionnaire: Questionnaire, answers: Mapping[str, str]) -> int | None:
    """Return the first item of the part asked in its own message, or None if there is no
    such part (or it asks nothing, given the answers)."""
    split = questionnaire.apart_from
    if split is None:
        return None
    return next(
        (p for p in part_of(questionnaire, split) if is_visible(questionnaire, p, answers)), None
    )


def in_weekly_part(questionnaire: Questionnaire, status: CheckinStatus, position: int) -> bool:
    """Tell whether a check-in is answering its weekly part: the daily part is over (completed
    or skipped, never stopped by a safety answer) and the position is inside that part."""
    split = questionnaire.apart_from
    return (
        split is not None
        and status in {CheckinStatus.COMPLETED, CheckinStatus.SKIPPED}
        and split <= position < len(questionnaire.items)
    )


def accepts_taps(questionnaire: Questionnaire, status: CheckinStatus, position: int) -> bool:
    """Tell whether a check-in still takes answers (its window aside)."""
    return status is CheckinStatus.OPEN or in_weekly_part(questionnaire, status, position)


def progress(questionnaire: Questionnaire, position: int) -> tuple[str, int]:
    """Return (number of the item at ``position``, how many items its message asks for
    sure), for a "3/7" display that never changes its total mid check-in.

    The total counts the items every patient is asked (those without a condition), so it
    is known from the first question and never jumps or shrinks. A follow-up (an item with a
    condition: the bother rating, D7b, the PHQ-9 item 9 follow-up) takes the number of the
    item before it with a letter, as docs/clinical.md §1.2 names D7b: "6b/7", "7b/7".
    """
    part = part_of(questionnaire, position)
    fixed = [p for p in part if questionnaire.items[p].show_if is None]
    before = [p for p in fixed if p <= position]
    number = max(len(before), 1)
    if questionnaire.items[position].show_if is None:
        return str(number), len(fixed)
    last_fixed = before[-1] if before else part.start - 1
    letter = chr(ord("a") + position - last_fixed)  # the first follow-up is "b"
    return f"{number}{letter}", len(fixed)


def judge_tap(
    questionnaire: Questionnaire,
    *,
    status: CheckinStatus,
    window_open: bool,
    current_position: int,
    tap: Tap,
) -> TapVerdict:
    """Decide what to do with a tap on an answer (or multi-select option) button.

    A tap for an item that is already behind us is a replay or a double tap: it changes
    nothing. A tap for an item ahead of the current one, for an id the questionnaire does not
    have, or with a value the item does not offer, cannot come from a button we sent: it is
    refused.
    """
    if not accepts_taps(questionnaire, status, current_position) or not window_open:
        return TapVerdict.CLOSED
    position = locate(questionnaire, tap.item)
    if position is None:
        return TapVerdict.INVALID
    if position < current_position:
        return TapVerdict.ALREADY_ANSWERED
    if position > current_position:
        return TapVerdict.INVALID
    if not questionnaire.items[position].accepts(tap.value):
        return TapVerdict.INVALID
    return TapVerdict.RECORD


def toggle(item: Item, selected: set[str], value: str) -> tuple[set[str], str | None]:
    """Apply a tap on a multi-select option.

    Returns the new selection and, when the tap answers the item at once (the exclusive
    "none" option), the answer to store.
    """
    if item.kind is not ItemKind.MULTI:
        raise ValueError(f"item {item.id!r} is not a multi-select")
    if value == item.none_value:
        return set(), value
    return (selected - {value}) if value in selected else (selected | {value}), None


def item_at(questionnaire: Questionnaire, position: int) -> Item | None:
    """Return the item at a position, or None when the position is past the end."""
    if 0 <= position < len(questionnaire.items):
        return questionnaire.items[position]
    return None


def judge_done(
    questionnaire: Questionnaire, current_position: int, ref: ItemRef, selected: frozenset[str]
) -> TapVerdict:
    """Decide what Done on a multi-select (the item ``ref`` names) means: record the ticked
    options, or why not."""
    position = locate(questionnaire, ref)
    if position is None or questionnaire.items[position].kind is not ItemKind.MULTI:
        return TapVerdict.INVALID
    if position < current_position:
        return TapVerdict.ALREADY_ANSWERED
    if position != current_position:
        return TapVerdict.INVALID
    return TapVerdict.RECORD if selected else TapVerdict.NEED_SELECTION


@dataclass(frozen=True, slots=True)
class BackStep:
    """Back: ask the item at ``position`` again, forgetting its answer (item ``forget``)."""

    position: int
    forget: str


def judge_back(
    questionnaire: Questionnaire, answers: Mapping[str, str], current_position: int, ref: ItemRef
) -> BackStep | TapVerdict:
    """Decide what Back from the item ``ref`` names does: the step back, or why not (a Back
    from an item already behind us changes nothing, one from an item the questionnaire does
    not have is refused; the first item of a part has none)."""
    position = locate(questionnaire, ref)
    if position is None:
        return TapVerdict.INVALID
    if position != current_position:
        return TapVerdict.ALREADY_ANSWERED
    previous = previous_position(questionnaire, answers, position)
    if previous is None:
        return TapVerdict.INVALID
    return BackStep(previous, questionnaire.items[previous].id)


@dataclass(frozen=True, slots=True)
class SkipStep:
    """Skip today: what the check-in becomes.

    Skipping the daily part marks the day skipped (a weekly part in its own message is still
    offered, since it does not depend on the day); skipping the weekly part leaves its
    questions unanswered and the day as it was.
    """

    status: CheckinStatus | None
    """The check-in's new status (None: unchanged)."""
    position: int | None
    """The check-in's new position (None: unchanged until the weekly part is asked)."""
    offers_weekly_part: bool


def judge_skip(
    questionnaire: Questionnaire, status: CheckinStatus, position: int
) -> SkipStep | TapVerdict:
    """Decide what Skip does. A safety question never shows Skip: a Skip from an older copy
    of the message is refused rather than ending the day before the answer."""
    current = item_at(questionnaire, position)
    if current is not None and current.safety:
        return TapVerdict.SAFETY_NO_SKIP
    if in_weekly_part(questionnaire, status, position):
        return SkipStep(None, len(questionnaire.items), offers_weekly_part=False)
    return SkipStep(CheckinStatus.SKIPPED, None, offers_weekly_part=True)

"""How the care team reads a question: its display name and its column in /patient's table.

Both are declared beside the question in its questionnaire file (``name:`` and ``column:``,
see docs/architecture.md, "Where a question's labels live"), so adding a daily question is a
change to that one file. This module holds their structure, what a cell of the day table
shows for a day's answers, and the checks the start-up runs: a column's flag and its value
texts must name real answers, and every locale the bot speaks needs every text (never a
fallback to another language or to a stored value's id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.domain.questionnaire import MULTI_SEPARATOR, Item, ItemKind, Questionnaire

NOT_ANSWERED = "·"
"""A cell whose question has no answer that day."""
FLAG_MARK = "!"
"""Added to a cell whose day holds one of the column's flag values (a red flag to see)."""


@dataclass(frozen=True, slots=True)
class Flag:
    """Answers that mark a cell: one of ``values`` given to ``item`` (the column's own
    question, or a follow-up such as the safety question's "unsafe now")."""

    item: str
    values: frozenset[str]


@dataclass(frozen=True, slots=True)
class Column:
    """A question's column in /patient's day table."""

    labels: Mapping[str, str]
    """The column's header, per locale (short: the table is monospaced in a phone)."""
    width: int | None = None
    """Characters the cell is padded to; None: not padded (the last column)."""
    left: bool = False
    """Padded on the right (text) rather than on the left (numbers)."""
    count: bool = False
    """A multi-select shows how many options were ticked (its none option as 0)."""
    shows: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Stored value -> locale -> what the cell shows; empty: the value as stored."""
    flag: Flag | None = None
    notes: Mapping[str, str] = field(default_factory=dict)
    """The legend's words for this column, per locale (may cover its neighbours too)."""

    def label(self, locale: str) -> str:
        """Return the header in a locale (every locale is checked at start-up)."""
        return self.labels[locale]


def cell(item: Item, column: Column, answers: Mapping[str, str], locale: str) -> str:
    """Return what a day's cell shows for a question, from the day's answers by item id."""
    answer = answers.get(item.id)
    if answer is None:
        return NOT_ANSWERED
    if column.count:
        ticked = 0 if answer == item.none_value else len(answer.split(MULTI_SEPARATOR))
        text = str(ticked)
    else:
        shown = column.shows.get(answer)
        text = shown[locale] if shown is not None else answer
    flag = column.flag
    if flag is not None:
        given = answers.get(flag.item)
        if given is not None and flag.values & set(given.split(MULTI_SEPARATOR)):
            text += FLAG_MARK
    return text


def columns(questionnaire: Questionnaire) -> list[tuple[Item, Column]]:
    """Return the questions that have a column, in the questionnaire's order."""
    return [(item, item.column) for item in questionnaire.items if item.column is not None]


def column_problems(questionnaire: Questionnaire) -> list[str]:
    """Return what is wrong with the questionnaire's columns (an empty list when sound): a
    flag on a question it does not have or on answers it does not offer, value texts that
    leave out some answers, a count on a question that is not a multi-select."""
    items = {item.id: item for item in questionnaire.items}
    problems = []
    for item, column in columns(questionnaire):
        where = f"item {item.id!r}, key 'column'"
        if column.count and item.kind is not ItemKind.MULTI:
            problems.append(f"{where}: 'count' is for a multi-select item")
        if column.count and column.shows:
            problems.append(f"{where}: a counted column has no 'values'")
        if column.shows:
            offered = [option.value for option in item.options]
            missing = [value for value in offered if value not in column.shows]
            unknown = sorted(set(column.shows) - set(offered))
            if missing:
                problems.append(f"{where}, 'values': no text for {', '.join(missing)}")
            if unknown:
                problems.append(f"{where}, 'values': {', '.join(unknown)} not an answer")
        flag = column.flag
        if flag is not None:
            flagged = items.get(flag.item)
            if flagged is None:
                problems.append(f"{where}, 'flag': no item {flag.item!r} in the questionnaire")
            else:
                unknown = sorted(v for v in flag.values if not flagged.accepts(v))
                if unknown:
                    problems.append(
                        f"{where}, 'flag': {', '.join(unknown)} not an answer of {flag.item!r}"
                    )
    return problems


def missing_label(items: Iterable[Item], locale: str, named: frozenset[str]) -> str | None:
    """Return the first label with no text in ``locale`` (None: all there), as "item 'x', key
    'y'". ``named``: the items that must have a display name (those a rule names); any other
    item that has one must have it in every locale too."""
    for item in items:
        if item.id in named and not item.name:
            return f"item {item.id!r}, key 'name' (a rule names this question)"
        if item.name and not item.name.get(locale):
            return f"item {item.id!r}, key 'name'"
        column = item.column
        if column is None:
            continue
        if not column.labels.get(locale):
            return f"item {item.id!r}, key 'column: label'"
        for value, texts in column.shows.items():
            if not texts.get(locale):
                return f"item {item.id!r}, key 'column: values: {value}'"
        if column.notes and not column.notes.get(locale):
            return f"item {item.id!r}, key 'column: note'"
    return None

"""Pure helpers of the provider commands: argument checks, adherence, the day table's rows,
message splitting and the CSV export. Plain values in, plain values out (no I/O)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

from bot.domain import invites
from bot.domain.checkin import CheckinStatus
from bot.domain.message_text import utf16_len
from bot.domain.question_labels import cell, columns
from bot.domain.questionnaire import MULTI_SEPARATOR, Item, ItemKind, Questionnaire

T = TypeVar("T")
MESSAGE_LIMIT = 4096
"""Telegram's limit for one message's text (in UTF-16 code units)."""
ADHERENCE_DAYS = 7
TABLE_DAYS = 14
PAUSE_DAYS = range(1, 61)
MESSAGES_DAYS = 14
"""How far back /messages looks: the span of /patient's day table."""
MESSAGES_LIMIT = 20
"""At most this many messages in /messages (newest first)."""
MESSAGE_SHOWN = 1000
"""Characters of one message /messages shows; a longer one is cut with an ellipsis."""

DONE = frozenset(
    {CheckinStatus.COMPLETED.value, CheckinStatus.PARTIAL.value, CheckinStatus.STOPPED.value}
)
"""Check-ins that count as done for adherence: completed, partial (some answers when the
window closed) and stopped (ended early at the safety question, which needs a human)."""
NOT_DONE = frozenset({CheckinStatus.MISSED.value, CheckinStatus.SKIPPED.value})
"""Check-ins that were due and not done."""
EMPTY_EXPORT = frozenset({CheckinStatus.MISSED.value, CheckinStatus.SKIPPED.value})
"""Statuses exported as one row with an empty item when the day has no answers."""
EXPORT_HEADER = (
    "label",
    "local_date",
    "timezone",
    "checkin_status",
    "item",
    "value",
    "value_number",
)
EXPORT_COLUMNS = (
    ("label", "the patient's pseudonymous label"),
    ("local_date", "the check-in's date in the patient's time zone (YYYY-MM-DD)"),
    ("timezone", "the patient's IANA time zone that day"),
    (
        "checkin_status",
        "open, completed, stopped (ended at a safety answer), partial, skipped or missed",
    ),
    ("item", "the question's id (see the rows below); empty for a day with no answer"),
    (
        "value",
        "the answer as stored; one row per ticked option of a multi-select; empty for a day "
        "with no answer",
    ),
    ("value_number", "the answer as a number where it is one (scales, scores); else empty"),
)
"""The columns of the export, as its data dictionary describes them."""


@dataclass(frozen=True, slots=True)
class Adherence:
    """Done check-ins over due check-ins in a span of local dates."""

    done: int
    due: int

    @property
    def percent(self) -> int | None:
        """Return the rounded percentage, or None when nothing was due."""
        return None if self.due == 0 else round(100 * self.done / self.due)


def adherence(statuses: Iterable[tuple[date, str]], today: date) -> Adherence:
    """Count adherence over the last 7 local dates (``today`` and the 6 before it).

    A day is *due* when it has a check-in whose status is final: done (completed, partial,
    stopped) or not (missed, skipped). A still-open check-in (today's, before its window
    closes) counts neither way; days without a check-in (paused, before enrolment) are not
    due.
    """
    first = today - timedelta(days=ADHERENCE_DAYS - 1)
    done = due = 0
    for day, status in statuses:
        if not first <= day <= today:
            continue
        if status in DONE:
            done += 1
            due += 1
        elif status in NOT_DONE:
            due += 1
    return Adherence(done=done, due=due)


@dataclass(frozen=True, slots=True)
class DayRow:
    """One line of a patient's day table: the local date, and the check-in if any."""

    day: date
    status: str | None
    """The check-in status, or None when there was no check-in that day."""
    answers: dict[str, str] = field(default_factory=dict)


def day_rows(
    checkins: Iterable[tuple[date, str, dict[str, str]]],
    today: date,
    enrolled_on: date | None = None,
) -> list[DayRow]:
    """Return the last 14 local dates, newest first, each with its check-in (if any); never a
    date before ``enrolled_on`` (a patient enrolled today has one row, not 13 "no check-in"
    rows), unless a check-in exists for it."""
    by_day = {day: (status, answers) for day, status, answers in checkins}
    first = today - timedelta(days=TABLE_DAYS - 1)
    if enrolled_on is not None:
        first = max(first, min([enrolled_on, today, *by_day]))
    rows = []
    for back in range((today - first).days + 1):
        day = today - timedelta(days=back)
        status, answers = by_day.get(day, (None, {}))
        rows.append(DayRow(day=day, status=status, answers=dict(answers)))
    return rows


def day_table(
    rows: Iterable[DayRow], questionnaire: Questionnaire | None, locale: str
) -> dict[str, Any]:
    """Return /patient's day table as its template takes it: the columns (one per question
    that declares one, in the questionnaire's order: header, width, alignment), the legend's
    words, and each day's date, status and cells (None for a day with no answer)."""
    shown = columns(questionnaire) if questionnaire is not None else []
    return {
        "columns": [
            {"label": column.label(locale), "width": column.width, "left": column.left}
            for _, column in shown
        ],
        "notes": [column.notes[locale] for _, column in shown if column.notes],
        "days": [
            {
                "date": row.day.strftime("%m-%d"),
                "status": row.status,
                "cells": [cell(item, column, row.answers, locale) for item, column in shown]
                if row.answers
                else None,
            }
            for row in rows
        ],
    }


def shorten(text: str, limit: int = MESSAGE_SHOWN) -> str:
    """Return text cut to ``limit`` characters (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def fit_newest(
    items: Sequence[T], render: Callable[[Sequence[T]], str], limit: int = MESSAGE_LIMIT
) -> list[T]:
    """Return the longest prefix of ``items`` (newest first) whose rendering fits one
    Telegram message; the older ones are left out (the rendering says how many)."""
    count = len(items)
    while count > 0 and utf16_len(render(items[:count])) > limit:
        count -= 1
    return list(items[:count])


def is_label(text: str) -> bool:
    """Tell whether text is a well-formed pseudonymous label (safe to show and to store)."""
    return invites.is_valid_label(text)


def parse_days(text: str) -> int | None:
    """Return a pause length in days (1-60), or None when it is not one."""
    if not text.isascii() or not text.isdigit() or len(text) > 3:
        return None
    days = int(text)
    return days if days in PAUSE_DAYS else None


def _blocks(text: str) -> list[str]:
    """Cut a message into lines, keeping a ``<pre>`` block (which spans lines) whole."""
    blocks: list[str] = []
    open_pre: list[str] | None = None
    for line in text.split("\n"):
        if open_pre is not None:
            open_pre.append(line)
            if "</pre>" in line:
                blocks.append("\n".join(open_pre))
                open_pre = None
        elif "<pre>" in line and "</pre>" not in line:
            open_pre = [line]
        else:
            blocks.append(line)
    if open_pre is not None:
        blocks.append("\n".join(open_pre))
    return blocks


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split a message into parts below Telegram's limit, only ever between lines.

    The raw HTML is measured (never shorter than what Telegram counts after parsing), so
    every part fits. A ``<pre>`` block stays in one part. A single line longer than the
    limit cannot happen with the provider templates; it would be sent as its own part.
    """
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for block in _blocks(text):
        length = utf16_len(block)
        joined = size + (1 if current else 0) + length
        if current and joined > limit:
            parts.append("\n".join(current).strip("\n"))
            current, size = [block], length
        else:
            current.append(block)
            size = joined
    if current:
        parts.append("\n".join(current).strip("\n"))
    return [part for part in parts if part.strip()]


def export_csv(
    rows: Sequence[tuple[str, date, str, str, str | None, str | None]],
    items: Mapping[str, Item],
) -> str:
    """Return a cohort's answers as tidy CSV: one row per answer (one per ticked option of a
    multi-select), plus one row with an empty item for each missed or skipped day (rows as
    :meth:`ExportQueries.csv_rows` gives). A note's reference to free text is left
    out: the text is not exported, and the reference means nothing outside the database."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_HEADER)
    for label, day, zone, status, item_id, stored in rows:
        head = [label, day.isoformat(), zone, status]
        if item_id is None:
            if status not in EMPTY_EXPORT:
                continue  # an open check-in with nothing answered yet
            writer.writerow([*head, "", "", ""])
            continue
        item = items.get(item_id)
        if item is not None and item.kind is ItemKind.NOTE:
            continue
        answer = stored or ""
        multi = item is not None and item.kind is ItemKind.MULTI
        for value in answer.split(MULTI_SEPARATOR) if multi else [answer]:
            writer.writerow([*head, item_id, value, value if value.isdigit() else ""])
    return out.getvalue()


def data_dictionary_csv(questionnaires: Sequence[Questionnaire]) -> str:
    """Return the export's data dictionary: its columns, then every item of the cohort's
    questionnaires with its type, English wording and the meaning of each value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("name", "kind", "description", "values"))
    for name, description in EXPORT_COLUMNS:
        writer.writerow((name, "column", description, ""))
    seen: set[str] = set()
    for questionnaire in questionnaires:
        for item in questionnaire.items:
            if item.id in seen or item.kind is ItemKind.NOTE:
                continue
            seen.add(item.id)
            values = "; ".join(f"{o.value}={o.label('en')}" for o in item.options)
            text = " ".join(item.text("en").split())
            writer.writerow(
                (item.id, f"item ({questionnaire.id}, {item.kind.value})", text, values)
            )
    return out.getvalue()

"""Pure helpers of the provider commands: argument checks, adherence, the day table's rows,
message splitting and the CSV export. Plain values in, plain values out (no I/O)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.domain import invites
from bot.domain.checkin import CheckinStatus

MESSAGE_LIMIT = 4096
"""Telegram's limit for one message's text (in UTF-16 code units)."""
ADHERENCE_DAYS = 7
TABLE_DAYS = 14
PAUSE_DAYS = range(1, 61)

DONE = frozenset(
    {CheckinStatus.COMPLETED.value, CheckinStatus.PARTIAL.value, CheckinStatus.STOPPED.value}
)
"""Check-ins that count as done for adherence: completed, partial (some answers when the
window closed) and stopped (ended early at the safety question, which needs a human)."""
NOT_DONE = frozenset({CheckinStatus.MISSED.value, CheckinStatus.SKIPPED.value})
"""Check-ins that were due and not done."""
EMPTY_EXPORT = frozenset({CheckinStatus.MISSED.value, CheckinStatus.SKIPPED.value})
"""Statuses exported as one row with an empty item when the day has no answers."""
EXPORT_HEADER = ("label", "local_date", "timezone", "checkin_status", "item", "value")


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


def is_label(text: str) -> bool:
    """Tell whether text is a well-formed pseudonymous label (safe to show and to store)."""
    return invites.is_valid_label(text)


def parse_days(text: str) -> int | None:
    """Return a pause length in days (1-60), or None when it is not one."""
    if not text.isascii() or not text.isdigit() or len(text) > 3:
        return None
    days = int(text)
    return days if days in PAUSE_DAYS else None


def utf16_len(text: str) -> int:
    """Return the length Telegram counts: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


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
) -> str:
    """Return a cohort's answers as CSV: one row per answer, plus one row with an empty item
    for each missed or skipped day (rows as :meth:`ProviderRepository.export_rows` gives)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_HEADER)
    for label, day, zone, status, item, value in rows:
        if item is None:
            if status not in EMPTY_EXPORT:
                continue  # an open check-in with nothing answered yet
            writer.writerow([label, day.isoformat(), zone, status, "", ""])
        else:
            writer.writerow([label, day.isoformat(), zone, status, item, value or ""])
    return out.getvalue()

"""A patient's history as the escalation engine sees it: check-ins, instruments, past alerts.

Plain frozen values, built by a service from the database and handed to
``bot.domain.escalation.evaluate``. Answers are kept as stored strings; a missing answer is
absent from the mapping, never a zero (docs/clinical.md, "Answers as stored").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType

from bot.domain.alerts import Tier
from bot.domain.checkin import CheckinStatus
from bot.domain.instruments import Instrument
from bot.domain.questionnaire import MULTI_SEPARATOR
from bot.domain.scoring import Score, score

# Only plain digits are numbers: a stored option value such as "1" (sleep) or "10" (mood).
_NUMBER = re.compile(r"[0-9]{1,3}")


def _require_aware(name: str, instant: datetime | None) -> None:
    if instant is not None and instant.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {instant!r}")


@dataclass(frozen=True, slots=True)
class DailyCheckin:
    """One day's check-in.

    Attributes:
        local_date: The patient's local date the check-in belongs to.
        status: Where the check-in ended up (open, completed, stopped, skipped, ...).
        answers: Stored answers by item id; unanswered items are absent.
        completed_at: When the patient finished it (completed or stopped), else None.
        closed_at: When it closed for good: finished, or its window ended (a missed day closes
            at local midnight, docs/clinical.md §3.5). Required for a missed check-in, because the
            "missed within 72 h of an event" rule measures from it.
    """

    local_date: date
    status: CheckinStatus
    answers: Mapping[str, str] = field(default_factory=dict)
    completed_at: datetime | None = None
    closed_at: datetime | None = None

    def __post_init__(self) -> None:
        # A read-only copy: the caller's dict may change later, this value must not.
        object.__setattr__(self, "answers", MappingProxyType(dict(self.answers)))
        _require_aware("completed_at", self.completed_at)
        _require_aware("closed_at", self.closed_at)
        if self.status is CheckinStatus.MISSED and self.closed_at is None:
            raise ValueError(f"missed check-in of {self.local_date} needs closed_at")

    def number(self, item: str) -> float | None:
        """Return a numeric answer (mood, anxiety, sleep...), or None when absent or not a
        plain number."""
        value = self.answers.get(item)
        if value is None or not _NUMBER.fullmatch(value):
            return None
        return float(value)

    def values(self, item: str) -> frozenset[str] | None:
        """Return the values of an answer (several for a multi-select), or None if absent."""
        value = self.answers.get(item)
        return None if value is None else frozenset(value.split(MULTI_SEPARATOR))

    @property
    def instant(self) -> datetime | None:
        """Return the best instant for the check-in: when completed, else when closed."""
        return self.completed_at or self.closed_at


@dataclass(frozen=True, slots=True)
class InstrumentResult:
    """One completed weekly (or monthly) instrument.

    Attributes:
        instrument: PHQ-9, GAD-7 or PCL-5.
        local_date: The patient's local date it was completed.
        items: Item scores in questionnaire order, as for ``bot.domain.scoring.score``.
        completed_at: When it was completed, if known.
    """

    instrument: Instrument
    local_date: date
    items: tuple[int, ...]
    completed_at: datetime | None = None

    def __post_init__(self) -> None:
        # Score once here so a bad result is refused when the history is built, not later.
        score(self.instrument, self.items)
        _require_aware("completed_at", self.completed_at)

    @property
    def score(self) -> Score:
        """Return the scored result (total, flags)."""
        return score(self.instrument, self.items)


@dataclass(frozen=True, slots=True)
class PastAlert:
    """An alert already raised for this patient (item-level or patient-level).

    Attributes:
        rule_id: The rule that fired.
        tier: The tier it fired at.
        at: When it was raised.
        event_key: The event it was about (``Alert.event_key``); empty for item-level alerts.
    """

    rule_id: str
    tier: Tier
    at: datetime
    event_key: str = ""

    def __post_init__(self) -> None:
        _require_aware("at", self.at)


@dataclass(frozen=True, slots=True)
class PatientHistory:
    """Everything the escalation rules look at for one patient.

    Check-ins and results are kept sorted by local date; at most one check-in per local date
    (the event keys of the daily rules are dates, so two would collide).
    """

    checkins: tuple[DailyCheckin, ...] = ()
    instruments: tuple[InstrumentResult, ...] = ()
    alerts: tuple[PastAlert, ...] = ()
    course_start: date | None = None
    """The first local day of the patient's current treatment course (None: one course
    since enrolment); the relapse signal measures from its first result."""

    def __post_init__(self) -> None:
        checkins = tuple(sorted(self.checkins, key=lambda c: c.local_date))
        dates = [c.local_date for c in checkins]
        if len(set(dates)) != len(dates):
            raise ValueError("two check-ins share a local date")
        object.__setattr__(self, "checkins", checkins)
        object.__setattr__(
            self, "instruments", tuple(sorted(self.instruments, key=lambda r: r.local_date))
        )

    def closed_checkins(self) -> tuple[DailyCheckin, ...]:
        """Return the check-ins that are over (an open one is still in progress)."""
        return tuple(c for c in self.checkins if c.status is not CheckinStatus.OPEN)

    def results(self, instrument: Instrument) -> tuple[InstrumentResult, ...]:
        """Return one instrument's results, oldest first."""
        return tuple(r for r in self.instruments if r.instrument is instrument)

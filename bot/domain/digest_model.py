"""What a weekly digest is made of: the plain rows it is computed from and the figures it
shows (pure data; :func:`bot.domain.digest.build_digest` computes them, the definitions are
that module's docstring)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from bot.domain.digest_schedule import Period
from bot.domain.instruments import Band, Instrument

# --- input rows ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatientRow:
    """A patient of the cohort."""

    id: int
    label: str
    status: str


@dataclass(frozen=True, slots=True)
class DayRow:
    """One daily check-in with its mood and anxiety answers (None: not answered)."""

    patient_id: int
    day: date
    status: str
    mood: int | None = None
    anxiety: int | None = None
    safety_declined: bool = False
    """The safety question (D7) was answered "prefer not to answer"."""


@dataclass(frozen=True, slots=True)
class InstrumentRow:
    """The answers of one check-in that holds a weekly instrument."""

    patient_id: int
    instrument: Instrument
    day: date
    answers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert's life as the digest sees it."""

    patient_id: int
    tier: str
    status: str
    created_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None


# --- figures ------------------------------------------------------------------------------


class DayState(StrEnum):
    """What a patient's day looks like in the chart."""

    ANSWERED = "answered"
    MISSED = "missed"
    """Due and not answered (missed, skipped, or still open)."""
    NONE = "none"
    """Nothing was due (paused, not enrolled yet, unreachable)."""


class Reason(StrEnum):
    """Why a patient needs attention, most urgent first."""

    IMMEDIATE_ALERT = "immediate_alert"
    ITEM9 = "item9"
    URGENT_ALERT = "urgent_alert"
    SAFETY_DECLINED = "safety_declined"
    PHQ9_SEVERE = "phq9_severe"
    MOOD_DROP = "mood_drop"
    LOW_ADHERENCE = "low_adherence"

    @property
    def rank(self) -> int:
        """Return 0 for the most urgent reason."""
        return list(Reason).index(self)


@dataclass(frozen=True, slots=True)
class DayCell:
    """One patient's day."""

    day: date
    state: DayState
    mood: int | None = None
    anxiety: int | None = None


@dataclass(frozen=True, slots=True)
class InstrumentResult:
    """The latest scored instrument of a patient, and how it moved from the one before."""

    instrument: Instrument
    day: date
    total: int
    band: Band | None
    previous_total: int | None
    item9: int | None = None
    """PHQ-9 only."""

    @property
    def change(self) -> int | None:
        """Return the total minus the previous total (positive is worse), if there is one."""
        return None if self.previous_total is None else self.total - self.previous_total


@dataclass(frozen=True, slots=True)
class Trend:
    """A daily item's mean this period and the period before."""

    mean: float | None
    previous: float | None
    count: int
    total: int
    previous_count: int
    previous_total: int

    @property
    def change(self) -> float | None:
        """Return this period's mean minus the previous one's, when both exist."""
        if self.mean is None or self.previous is None:
            return None
        return self.mean - self.previous

    def dropped_by(self, points: int) -> bool:
        """Tell (exactly, without float rounding) whether the mean fell by ``points`` or more."""
        if not self.count or not self.previous_count:
            return False
        # total/count - prev_total/prev_count <= -points, times count * prev_count (> 0).
        return (
            self.total * self.previous_count - self.previous_total * self.count
            <= -points * self.count * self.previous_count
        )


@dataclass(frozen=True, slots=True)
class PatientFigures:
    """Everything the digest says about one patient."""

    id: int
    label: str
    status: str
    due: int
    answered: int
    days: tuple[DayCell, ...]
    mood: Trend
    anxiety: Trend
    phq9: InstrumentResult | None
    gad7: InstrumentResult | None
    open_alerts: int
    """Alerts not resolved yet (open or acknowledged), any tier."""
    open_by_tier: Mapping[str, int]
    reasons: tuple[Reason, ...] = ()
    safety_declined: int = 0
    """Days of the period on which the safety question was answered "prefer not to answer"."""
    pcl5: InstrumentResult | None = None
    """Where the cohort asks it (every few weeks), the latest PCL-5."""

    @property
    def adherence(self) -> float | None:
        """Return answered / due days, or None when nothing was due."""
        return self.answered / self.due if self.due else None

    @property
    def needs_attention(self) -> bool:
        """Tell whether any reason puts the patient at the top."""
        return bool(self.reasons)


@dataclass(frozen=True, slots=True)
class CohortSummary:
    """The cohort at a glance."""

    active: int
    paused: int
    unreachable: int
    due: int
    answered: int
    alerts_opened: int
    alerts_acknowledged: int
    alerts_resolved: int
    median_to_acknowledge: timedelta | None
    needing_attention: int
    open_by_tier: Mapping[str, int] = field(default_factory=dict)
    """Alerts not resolved when the digest is built (raised in any period), by tier: the
    figure beside the patients' "open alert" reasons, unlike ``alerts_opened``."""

    @property
    def alerts_open(self) -> int:
        """Return how many alerts are not resolved now, any tier."""
        return sum(self.open_by_tier.values())

    @property
    def patients(self) -> int:
        """Return how many patients the digest covers."""
        return self.active + self.paused + self.unreachable

    @property
    def adherence(self) -> float | None:
        """Return answered / due days over the whole cohort."""
        return self.answered / self.due if self.due else None


@dataclass(frozen=True, slots=True)
class StripDay:
    """The whole cohort on one day (the chart's summary strip)."""

    day: date
    due: int
    answered: int
    mood_mean: float | None
    anxiety_mean: float | None

    @property
    def adherence(self) -> float | None:
        """Return answered / due check-ins of the day."""
        return self.answered / self.due if self.due else None


@dataclass(frozen=True, slots=True)
class Digest:
    """A cohort's week: the summary, patients (those needing attention first), the strip."""

    period: Period
    summary: CohortSummary
    patients: tuple[PatientFigures, ...]
    strip: tuple[StripDay, ...]
    not_asked: tuple[tuple[str, str, int], ...] = ()
    """(instrument, locale, patients): instruments the cohort asks that these patients are
    not asked, for want of a validated translation (bot.domain.weekly.not_asked_counts)."""

    @property
    def attention(self) -> tuple[PatientFigures, ...]:
        """Return the patients needing attention, most urgent first."""
        return tuple(p for p in self.patients if p.needs_attention)

"""The weekly digest's figures: pure arithmetic over plain rows, no I/O.

The service loads a cohort's patients, their daily check-ins of two weeks (this one and the
one before), their latest weekly instruments and the cohort's alerts with a few set-based
queries; :func:`build_digest` turns those rows into every figure the digest shows, and
:func:`needs_attention` decides which patients come first. Beside it, by responsibility:
the rows and figures as data (``bot.domain.digest_model``), the calendar (the period, the
weekly slot: ``bot.domain.digest_schedule``) and formatting for a locale
(``bot.domain.digest_format``).

Definitions (what the digest's words mean):

* **Period**: the 7 local days (in the cohort's time zone) ending the day before the digest
  is sent; the previous period is the 7 days before that.
* **Due day**: a local date on which the patient had a daily check-in (open, completed,
  partial, stopped, skipped or missed). Days without one (paused, not enrolled yet) are not
  due. A check-in that holds only a weekly instrument (questionnaire ``phq9``/``gad7``) is
  not a daily check-in.
* **Answered day** (adherence): the patient answered at least one item that day: completed,
  partial, or stopped by a safety answer. Missed, skipped and still open days are not.
* **Adherence**: answered days / due days; none when nothing was due.
* **Mood / anxiety mean**: mean of the ``mood`` / ``anxiety`` answers of the period; the change
  is this period's mean minus the previous period's (none when either has no answer).
* **Latest PHQ-9 / GAD-7 / PCL-5**: the newest fully answered instrument on or before the
  period's last day (within the look-back the service loads), always shown with its date (an
  old result must not read as this week's); the change is against the one before it. The
  PCL-5 is shown only where the cohort asks it.
* **Outcomes**: the digest sent on one of the first 7 days of a calendar month (cohort time)
  carries the outcomes report of the year to its period's end (``outcomes_included``).
* **Alerts**: raised, acknowledged and resolved *during the period*; the median time to
  acknowledge is over alerts acknowledged during the period. "Open" alerts are the ones not
  resolved yet (open or acknowledged) when the digest is built, whenever raised: the digest
  shows both figures, each labelled, so "0 raised" in a quiet week beside "3 open" from an
  earlier one (or from today, after the period) is not a contradiction.
* **Safety question declined**: days of the period on which D7 was answered "prefer not to
  answer"; any such day puts the patient on the attention list.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.domain.alerts import Tier
from bot.domain.digest_model import (
    AlertRow,
    CohortSummary,
    DayCell,
    DayRow,
    DayState,
    Digest,
    InstrumentResult,
    InstrumentRow,
    PatientFigures,
    PatientRow,
    Reason,
    StripDay,
    Trend,
)
from bot.domain.digest_schedule import Period
from bot.domain.instruments import Band, Instrument
from bot.domain.lifecycle import FOLLOWED, AlertStatus, PatientStatus
from bot.domain.scoring import Phq9Score, ScoringError, answers_from_values, score

INCLUDED_STATUSES = FOLLOWED
"""Patients the digest is about; withdrawn and discharged patients are left out."""
ANSWERED_STATUSES = frozenset({"completed", "partial", "stopped"})
INSTRUMENT_QUESTIONNAIRES = frozenset({"phq9", "gad7", "pcl5"})
"""Questionnaires that hold only a weekly instrument: such a check-in is not a daily one."""
DIGEST_INSTRUMENTS = (Instrument.PHQ9, Instrument.GAD7, Instrument.PCL5)
LOW_ADHERENCE = 0.5
MOOD_DROP = 2


def needs_attention(patient: PatientFigures) -> tuple[Reason, ...]:
    """Return why a patient needs the care team's attention (empty: they do not).

    * an open (unresolved) IMMEDIATE or URGENT alert;
    * the safety question answered "prefer not to answer" on a day of the period;
    * latest PHQ-9 item 9 above 0, or its band moderately severe or worse;
    * mean mood down 2 points or more against the previous week;
    * adherence below 50 % of the days due.
    """
    reasons: list[Reason] = []
    if patient.open_by_tier.get(Tier.IMMEDIATE.value, 0):
        reasons.append(Reason.IMMEDIATE_ALERT)
    phq9 = patient.phq9
    if phq9 is not None and phq9.item9:
        reasons.append(Reason.ITEM9)
    if patient.open_by_tier.get(Tier.URGENT.value, 0):
        reasons.append(Reason.URGENT_ALERT)
    if patient.safety_declined:
        reasons.append(Reason.SAFETY_DECLINED)
    if (
        phq9 is not None
        and phq9.band is not None
        and phq9.band.rank >= Band.MODERATELY_SEVERE.rank
    ):
        reasons.append(Reason.PHQ9_SEVERE)
    if patient.mood.dropped_by(MOOD_DROP):
        reasons.append(Reason.MOOD_DROP)
    if patient.due and patient.answered < LOW_ADHERENCE * patient.due:
        reasons.append(Reason.LOW_ADHERENCE)
    return tuple(reasons)


def _trend(now: Sequence[int], before: Sequence[int]) -> Trend:
    return Trend(
        mean=sum(now) / len(now) if now else None,
        previous=sum(before) / len(before) if before else None,
        count=len(now),
        total=sum(now),
        previous_count=len(before),
        previous_total=sum(before),
    )


def _instrument_results(
    rows: Iterable[InstrumentRow], last_day: date
) -> dict[tuple[int, Instrument], InstrumentResult]:
    """Score each patient's newest two complete instruments of each kind."""
    scored: dict[tuple[int, Instrument], list[tuple[date, int, Band | None, int | None]]] = (
        defaultdict(list)
    )
    for row in sorted(rows, key=lambda r: r.day, reverse=True):
        if row.day > last_day:
            continue
        key = (row.patient_id, row.instrument)
        if len(scored[key]) >= 2:
            continue
        try:
            result = score(row.instrument, answers_from_values(row.instrument, row.answers))
        except ScoringError:
            continue  # not fully answered: never scored as if skipped items were 0
        item9 = result.item9 if isinstance(result, Phq9Score) else None
        scored[key].append((row.day, result.total, result.band, item9))
    found: dict[tuple[int, Instrument], InstrumentResult] = {}
    for key, results in scored.items():
        if not results:
            continue
        day, total, band, item9 = results[0]
        found[key] = InstrumentResult(
            instrument=key[1],
            day=day,
            total=total,
            band=band,
            previous_total=results[1][1] if len(results) > 1 else None,
            item9=item9,
        )
    return found


def build_digest(
    period: Period,
    patients: Sequence[PatientRow],
    days: Iterable[DayRow],
    instruments: Iterable[InstrumentRow],
    alerts: Iterable[AlertRow],
) -> Digest:
    """Compute every figure of a cohort's digest from plain rows.

    Args:
        period: The week the digest is about.
        patients: The cohort's patients (only active, paused and unreachable ones count).
        days: Daily check-ins of this period and the previous one (others are ignored).
        instruments: Check-ins holding a weekly instrument, any date up to the period's end.
        alerts: The cohort's alerts: those touched in the period and those not resolved.

    Returns:
        The digest, with patients needing attention first (most urgent reason, then label)
        and the others by label.
    """
    included = {p.id: p for p in patients if p.status in INCLUDED_STATUSES}
    this_week, prev_mood, prev_anxiety = _split_days(days, included, period)
    results = _instrument_results((r for r in instruments if r.patient_id in included), period.end)
    tally = _tally_alerts(alerts, included, period)
    figures = sorted(
        (
            _patient_figures(
                patient,
                this_week.get(patient.id, {}),
                period,
                mood_before=prev_mood.get(patient.id, []),
                anxiety_before=prev_anxiety.get(patient.id, []),
                results=results,
                tiers=tally.open_by.get(patient.id, {}),
            )
            for patient in included.values()
        ),
        key=_order,
    )
    statuses = [p.status for p in included.values()]
    summary = CohortSummary(
        active=statuses.count(PatientStatus.ACTIVE),
        paused=statuses.count(PatientStatus.PAUSED),
        unreachable=statuses.count(PatientStatus.UNREACHABLE),
        due=sum(p.due for p in figures),
        answered=sum(p.answered for p in figures),
        alerts_opened=tally.opened,
        alerts_acknowledged=len(tally.to_acknowledge),
        alerts_resolved=tally.resolved,
        median_to_acknowledge=(
            timedelta(seconds=statistics.median(tally.to_acknowledge))
            if tally.to_acknowledge
            else None
        ),
        needing_attention=sum(p.needs_attention for p in figures),
        open_by_tier=_open_by_tier(tally),
    )
    return Digest(
        period=period, summary=summary, patients=tuple(figures), strip=_strip(figures, period)
    )


def _open_by_tier(tally: _AlertTally) -> dict[str, int]:
    totals: dict[str, int] = {}
    for tiers in tally.open_by.values():
        for tier, count in tiers.items():
            totals[tier] = totals.get(tier, 0) + count
    return totals


def _split_days(
    days: Iterable[DayRow], included: Mapping[int, PatientRow], period: Period
) -> tuple[dict[int, dict[date, DayRow]], dict[int, list[int]], dict[int, list[int]]]:
    """Sort day rows into this period's (by patient and date) and the previous period's
    mood and anxiety answers (by patient)."""
    this_days = set(period.days)
    previous = period.previous
    this_week: dict[int, dict[date, DayRow]] = defaultdict(dict)
    prev_mood: dict[int, list[int]] = defaultdict(list)
    prev_anxiety: dict[int, list[int]] = defaultdict(list)
    for row in days:
        if row.patient_id not in included:
            continue
        if row.day in this_days:
            this_week[row.patient_id][row.day] = row
        elif previous.start <= row.day <= previous.end:
            if row.mood is not None:
                prev_mood[row.patient_id].append(row.mood)
            if row.anxiety is not None:
                prev_anxiety[row.patient_id].append(row.anxiety)
    return this_week, prev_mood, prev_anxiety


@dataclass(slots=True)
class _AlertTally:
    opened: int = 0
    resolved: int = 0
    to_acknowledge: list[float] = field(default_factory=list)
    """Seconds from raise to acknowledgement of each alert acknowledged in the period."""
    open_by: dict[int, dict[str, int]] = field(default_factory=dict)


def _tally_alerts(
    alerts: Iterable[AlertRow], included: Mapping[int, PatientRow], period: Period
) -> _AlertTally:
    tally = _AlertTally()
    start, end = period.start_at, period.end_at
    for alert in alerts:
        if alert.status != AlertStatus.RESOLVED and alert.patient_id in included:
            tiers = tally.open_by.setdefault(alert.patient_id, {})
            tiers[alert.tier] = tiers.get(alert.tier, 0) + 1
        if start <= alert.created_at < end:
            tally.opened += 1
        if alert.resolved_at is not None and start <= alert.resolved_at < end:
            tally.resolved += 1
        if alert.acknowledged_at is not None and start <= alert.acknowledged_at < end:
            tally.to_acknowledge.append((alert.acknowledged_at - alert.created_at).total_seconds())
    return tally


def _patient_figures(
    patient: PatientRow,
    own: Mapping[date, DayRow],
    period: Period,
    *,
    mood_before: Sequence[int],
    anxiety_before: Sequence[int],
    results: Mapping[tuple[int, Instrument], InstrumentResult],
    tiers: Mapping[str, int],
) -> PatientFigures:
    cells: list[DayCell] = []
    for day in period.days:
        row = own.get(day)
        if row is None:
            cells.append(DayCell(day, DayState.NONE))
        else:
            state = DayState.ANSWERED if row.status in ANSWERED_STATUSES else DayState.MISSED
            cells.append(DayCell(day, state, row.mood, row.anxiety))
    mood = [c.mood for c in cells if c.mood is not None]
    anxiety = [c.anxiety for c in cells if c.anxiety is not None]
    figures = PatientFigures(
        id=patient.id,
        label=patient.label,
        status=patient.status,
        due=sum(c.state is not DayState.NONE for c in cells),
        answered=sum(c.state is DayState.ANSWERED for c in cells),
        days=tuple(cells),
        mood=_trend(mood, mood_before),
        anxiety=_trend(anxiety, anxiety_before),
        phq9=results.get((patient.id, Instrument.PHQ9)),
        gad7=results.get((patient.id, Instrument.GAD7)),
        pcl5=results.get((patient.id, Instrument.PCL5)),
        open_alerts=sum(tiers.values()),
        open_by_tier=dict(tiers),
        safety_declined=sum(row.safety_declined for row in own.values()),
    )
    return dataclasses.replace(figures, reasons=needs_attention(figures))


def _strip(figures: Sequence[PatientFigures], period: Period) -> tuple[StripDay, ...]:
    strip = []
    for n, day in enumerate(period.days):
        cells = [p.days[n] for p in figures]
        moods = [c.mood for c in cells if c.mood is not None]
        anxieties = [c.anxiety for c in cells if c.anxiety is not None]
        strip.append(
            StripDay(
                day=day,
                due=sum(c.state is not DayState.NONE for c in cells),
                answered=sum(c.state is DayState.ANSWERED for c in cells),
                mood_mean=_mean(moods),
                anxiety_mean=_mean(anxieties),
            )
        )
    return tuple(strip)


def _order(patient: PatientFigures) -> tuple[int, int, str]:
    if patient.reasons:
        return (0, patient.reasons[0].rank, patient.label)
    return (1, 0, patient.label)


def _mean(values: Sequence[int]) -> float | None:
    return sum(values) / len(values) if values else None


def worth_posting(digest: Digest) -> bool:
    """Tell whether a scheduled digest says anything: a cohort with no enrolled patient and
    no alert (e.g. on the first start, before any invite was used) gets none. A digest asked
    for with /digest is always posted: it answers the request."""
    summary = digest.summary
    return bool(summary.patients or summary.alerts_opened or summary.alerts_open)

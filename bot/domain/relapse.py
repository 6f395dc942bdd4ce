"""The relapse signal (docs/clinical.md, "Relapse signal"): a patient who got better and is
getting worse again. It raises an alert for the team only; the patient is never told.

Two paths, either fires the rule (``RelapseRule``):

- **Instrument**: the total met response (at most half the relapse baseline) and then rose
  back to three quarters of the baseline or more on ``in_a_row`` results in a row, all after
  that response. It fires when the run first reaches that length, once per episode.
- **Daily mood**: the ``baseline_mean`` rule (the 7-day mean ``by`` below the patient's
  baseline) holds today for the first time after a stable month: enough answers in the
  month before the week, and the mean rule held on none of those days nor earlier this week.

The "baseline for relapse" lives in :func:`relapse_baseline`: the first result of the
current treatment course. The course's first day comes in from the caller
(``PatientHistory.course_start``, set from ``bot.services.checkin.courses.current_course_start``):
results and check-ins before it count for neither path.
"""

from __future__ import annotations

from datetime import date, timedelta

from bot.domain.baseline import BaselineConfig, observations
from bot.domain.escalation_daily import check_baseline_mean
from bot.domain.escalation_rules import Alert, BaselineMeanRule, Direction, RelapseRule
from bot.domain.history import DailyCheckin, InstrumentResult


def relapse_baseline(
    results: tuple[InstrumentResult, ...], course_start: date | None = None
) -> int | None:
    """Return the index of the result the relapse rule measures from, or None.

    The patient's first result of the instrument in the current treatment course (the
    baseline of docs/clinical.md §2.5 and §3.4): the first on or after ``course_start``
    (None: the patient's first result of all). Results are oldest first.
    """
    return next(
        (
            n
            for n, result in enumerate(results)
            if course_start is None or result.local_date >= course_start
        ),
        None,
    )


def check_relapse(
    rule: RelapseRule,
    checkins: tuple[DailyCheckin, ...],
    results: tuple[InstrumentResult, ...],
    config: BaselineConfig,
    course_start: date | None = None,
) -> Alert | None:
    """Return the relapse alert due on the latest result or check-in, or None.

    ``course_start``: the first day of the patient's current treatment course (None: the
    whole history is one course); nothing before it counts.
    """
    if course_start is not None:
        checkins = tuple(c for c in checkins if c.local_date >= course_start)
    return _instrument_path(rule, results, course_start) or _mood_path(rule, checkins, config)


def _instrument_path(
    rule: RelapseRule, results: tuple[InstrumentResult, ...], course_start: date | None
) -> Alert | None:
    start = relapse_baseline(results, course_start)
    if start is None:
        return None
    baseline = results[start].score.total
    if baseline < rule.min_baseline:
        return None
    after = results[start + 1 :]
    response = next(
        (n for n, r in enumerate(after) if r.score.total <= rule.response_ratio * baseline), None
    )
    if response is None:
        return None
    since = after[response + 1 :]
    run = 0
    for result in reversed(since):
        if result.score.total < rule.relapse_ratio * baseline:
            break
        run += 1
    # Exactly the length asked: a longer run fired (or was held back) when it reached it.
    if run != rule.in_a_row:
        return None
    latest = since[-1]
    values = (
        ("total", float(latest.score.total)),
        ("baseline_total", float(baseline)),
        ("response_total", float(after[response].score.total)),
        ("count", float(run)),
    )
    key = f"{latest.instrument.value}:{latest.local_date.isoformat()}"
    return Alert(rule.id, rule.tier, key, values)


def _mood_path(
    rule: RelapseRule, checkins: tuple[DailyCheckin, ...], config: BaselineConfig
) -> Alert | None:
    mean_rule = BaselineMeanRule(
        id=rule.id,
        tier=rule.tier,
        item=rule.item,
        direction=Direction.BELOW,
        by=rule.by,
        days=rule.days,
        min_values=rule.min_values,
    )
    fired = check_baseline_mean(mean_rule, checkins, config)
    if fired is None:
        return None
    series = observations(checkins, rule.item)
    latest = series[-1].local_date
    week_start = latest - timedelta(days=rule.days - 1)
    month_start = week_start - timedelta(days=rule.stable_days)
    month = [o for o in series if month_start <= o.local_date < week_start]
    if len(month) < rule.stable_min_values:
        return None
    # Stable: on no earlier day of the month (or of this week) did the mean rule hold.
    for n, checkin in enumerate(checkins[:-1]):
        counted = month_start <= checkin.local_date < latest
        if (
            counted
            and checkin.number(rule.item) is not None
            and check_baseline_mean(mean_rule, checkins[: n + 1], config) is not None
        ):
            return None
    return Alert(rule.id, rule.tier, f"{rule.item}:{latest.isoformat()}", fired.values)

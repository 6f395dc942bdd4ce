"""Patient-level checks over the daily check-ins: thresholds, baselines, answers, missed days.

Each check looks only at the latest event its rule can see (the latest answer of its item, the
latest closed check-in) and returns at most one alert. Earlier events were either alerted at
the time (and are in the history's past alerts) or held back by a cooldown on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from statistics import fmean

from bot.domain.baseline import BaselineConfig, Observation, baseline_at, observations
from bot.domain.escalation_rules import (
    Alert,
    AnswerPatternRule,
    BaselineMeanRule,
    BaselineShiftRule,
    Direction,
    MissedAfterEventRule,
    MissedStreakRule,
    ThresholdRule,
    Window,
    counts_as_missed,
)
from bot.domain.history import DailyCheckin, PastAlert


def window_hits(points: Sequence[tuple[date, bool]], window: Window) -> int | None:
    """Return how many points in the window match, or None when the pattern is not met.

    Args:
        points: (local date, matches) per answered check-in, oldest first.
        window: K of the last M, or K within D days ending at the latest point.

    Returns:
        The number of matches, when the latest point matches and at least K do.
    """
    if not points or not points[-1][1]:
        return None
    if window.of_last is not None:
        recent = points[-window.of_last :]
    else:
        days = window.within_days or 1
        start = points[-1][0] - timedelta(days=days - 1)
        recent = [p for p in points if p[0] >= start]
    hits = sum(1 for _, matched in recent if matched)
    return hits if hits >= window.count else None


def check_threshold(rule: ThresholdRule, checkins: tuple[DailyCheckin, ...]) -> Alert | None:
    """Fire when the item's latest answers are past an absolute threshold K of M times."""
    series = observations(checkins, rule.item)
    hits = window_hits([(o.local_date, rule.matches(o.value)) for o in series], rule.window)
    if hits is None:
        return None
    latest = series[-1]
    return Alert(
        rule.id,
        rule.tier,
        latest.local_date.isoformat(),
        (("value", latest.value), ("count", float(hits))),
    )


def _worse_by(direction: Direction, value: float, baseline: float) -> float:
    """Return how far a value is on the worse side of baseline (negative when better)."""
    return baseline - value if direction is Direction.BELOW else value - baseline


def check_baseline_shift(
    rule: BaselineShiftRule, checkins: tuple[DailyCheckin, ...], config: BaselineConfig
) -> Alert | None:
    """Fire when answers are ``by`` points worse than their baseline K of M times."""
    series = observations(checkins, rule.item)
    baselines = [baseline_at(series, i, config) for i in range(len(series))]
    points = [
        (o.local_date, b is not None and _worse_by(rule.direction, o.value, b) >= rule.by)
        for o, b in zip(series, baselines, strict=True)
    ]
    hits = window_hits(points, rule.window)
    latest_baseline = baselines[-1] if baselines else None
    if hits is None or latest_baseline is None:
        return None
    latest = series[-1]
    return Alert(
        rule.id,
        rule.tier,
        latest.local_date.isoformat(),
        (("value", latest.value), ("baseline", latest_baseline), ("count", float(hits))),
    )


def check_baseline_mean(
    rule: BaselineMeanRule, checkins: tuple[DailyCheckin, ...], config: BaselineConfig
) -> Alert | None:
    """Fire when the mean of the last ``days`` days is ``by`` points worse than baseline."""
    series = observations(checkins, rule.item)
    if not series:
        return None
    latest = series[-1]
    baseline = baseline_at(series, len(series) - 1, config)
    # The latest answer must itself be worse than baseline: a calmer day never completes
    # a deterioration pattern (it would only be a window sliding past an old low).
    if baseline is None or _worse_by(rule.direction, latest.value, baseline) <= 0:
        return None
    start = latest.local_date - timedelta(days=rule.days - 1)
    recent: list[Observation] = [o for o in series if o.local_date >= start]
    if len(recent) < rule.min_values:
        return None
    mean = fmean(o.value for o in recent)
    if _worse_by(rule.direction, mean, baseline) < rule.by:
        return None
    return Alert(
        rule.id,
        rule.tier,
        latest.local_date.isoformat(),
        (("mean", mean), ("baseline", baseline), ("count", float(len(recent)))),
    )


def check_answer_pattern(
    rule: AnswerPatternRule, checkins: tuple[DailyCheckin, ...]
) -> Alert | None:
    """Fire when the item's answer includes one of the values K of M times."""
    points: list[tuple[date, bool]] = []
    for checkin in checkins:
        values = checkin.values(rule.item)
        if values is not None:
            points.append((checkin.local_date, bool(values & rule.values)))
    hits = window_hits(points, rule.window)
    if hits is None:
        return None
    return Alert(rule.id, rule.tier, points[-1][0].isoformat(), (("count", float(hits)),))


def check_missed_streak(
    rule: MissedStreakRule, checkins: tuple[DailyCheckin, ...]
) -> Alert | None:
    """Fire when the latest closed check-ins were missed in a row; the longest step sets the
    tier."""
    streak = 0
    for checkin in reversed(checkins):
        if not counts_as_missed(checkin, rule.missed, rule.unanswered):
            break
        streak += 1
    reached = [tier for length, tier in rule.steps if streak >= length]
    if not reached:
        return None
    tier = min(reached, key=lambda t: t.rank)
    return Alert(rule.id, tier, checkins[-1].local_date.isoformat(), (("streak", float(streak)),))


def check_missed_after_event(
    rule: MissedAfterEventRule,
    checkins: tuple[DailyCheckin, ...],
    past: tuple[PastAlert, ...],
    ignored_rules: frozenset[str],
) -> Alert | None:
    """Fire when the latest closed check-in was missed within ``within`` after an event."""
    if not checkins or not counts_as_missed(checkins[-1], rule.missed, rule.unanswered):
        return None
    missed = checkins[-1]
    missed_at = missed.closed_at
    if missed_at is None:
        return None
    events: list[datetime] = [
        alert.at
        for alert in past
        if alert.tier in rule.after_tiers and alert.rule_id not in ignored_rules
    ]
    for checkin in checkins:
        instant = checkin.instant
        if instant is not None and any(
            (checkin.values(match.item) or frozenset()) & match.values
            for match in rule.after_answers
        ):
            events.append(instant)
    # "Within 72 h after": the missed day closed after the event, at most ``within`` later.
    in_reach = [at for at in events if at < missed_at <= at + rule.within]
    if not in_reach:
        return None
    hours = (missed_at - max(in_reach)) / timedelta(hours=1)
    return Alert(
        rule.id, rule.tier, missed.local_date.isoformat(), (("hours_since_event", hours),)
    )

"""The patient's own baseline for a daily 0-10 (or 1-5) rating (docs/clinical.md §3.4).

Baseline = median of the first 7 check-ins that answered the item; once 14 or more exist,
the median of a rolling 14-day window that leaves out the latest 3 days, so a fresh
deterioration does not drag its own yardstick down. These are heuristics, not validated
(docs/clinical.md §3.4 and §6), so every number is configurable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

from bot.domain.history import DailyCheckin


@dataclass(frozen=True, slots=True)
class Observation:
    """One numeric answer of one item, with the day it was given."""

    local_date: date
    value: float


@dataclass(frozen=True, slots=True)
class BaselineConfig:
    """How the baseline is computed (docs/clinical.md §3.4 defaults).

    Attributes:
        first: A baseline exists once this many earlier check-ins answered the item; until
            the rolling window takes over it is the median of the first ``first`` of them.
        rolling_after: With this many earlier answers or more, use the rolling window.
        rolling_days: The rolling window's length in local days.
        exclude_latest_days: Days before the judged check-in (counting its own day) that the
            rolling window leaves out.
        rolling_min_values: A rolling window with fewer answers than this falls back to the
            first-check-ins median (docs/clinical.md is silent; a two-point median after a long
            break would be noise).
    """

    first: int = 7
    rolling_after: int = 14
    rolling_days: int = 14
    exclude_latest_days: int = 3
    rolling_min_values: int = 4


def observations(checkins: tuple[DailyCheckin, ...], item: str) -> tuple[Observation, ...]:
    """Return an item's numeric answers in date order; unanswered days are left out."""
    found: list[Observation] = []
    for checkin in checkins:
        value = checkin.number(item)
        if value is not None:
            found.append(Observation(checkin.local_date, value))
    return tuple(found)


def baseline_at(
    series: tuple[Observation, ...], index: int, config: BaselineConfig
) -> float | None:
    """Return the baseline against which ``series[index]`` is judged, or None if none yet.

    Only answers before ``series[index]`` count, so a check-in is never compared with a
    baseline it is part of.

    Args:
        series: One item's observations in date order.
        index: The observation being judged.
        config: Baseline settings.

    Returns:
        The baseline, or None while fewer than ``config.first`` earlier answers exist.
    """
    prior = series[:index]
    if len(prior) < config.first:
        return None
    first = median(o.value for o in prior[: config.first])
    if len(prior) < config.rolling_after:
        return first
    judged = series[index].local_date
    # Window [judged - exclude - days + 1, judged - exclude]: e.g. 14 days ending 3 days ago.
    end = judged - timedelta(days=config.exclude_latest_days)
    start = end - timedelta(days=config.rolling_days - 1)
    window = [o.value for o in prior if start <= o.local_date <= end]
    if len(window) < config.rolling_min_values:
        return first
    return median(window)

"""The relapse signal (bot/domain/relapse.py): both paths, their near misses, and a property
that the instrument path fires once per episode."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.alerts import Tier
from bot.domain.baseline import BaselineConfig
from bot.domain.checkin import CheckinStatus
from bot.domain.escalation_rules import RelapseRule
from bot.domain.history import DailyCheckin, InstrumentResult
from bot.domain.instruments import Instrument
from bot.domain.relapse import check_relapse

RULE = RelapseRule(id="possible_relapse", tier=Tier.URGENT)
CONFIG = BaselineConfig()
D0 = date(2026, 1, 5)


def phq9(week: int, total: int) -> InstrumentResult:
    """A PHQ-9 result with ``total`` spread over the first items (item 9 stays 0)."""
    items = [0] * 9
    for n in range(total):
        items[n % 8] += 1
    return InstrumentResult(Instrument.PHQ9, D0 + timedelta(weeks=week), tuple(items))


def mood_days(moods: list[int]) -> tuple[DailyCheckin, ...]:
    done = datetime(2026, 1, 1, 20, tzinfo=UTC)
    return tuple(
        DailyCheckin(
            D0 + timedelta(days=n),
            CheckinStatus.COMPLETED,
            {"mood": str(m)},
            done + timedelta(days=n),
            done + timedelta(days=n),
        )
        for n, m in enumerate(moods)
    )


def fires(totals: list[int]) -> bool:
    results = tuple(phq9(n, t) for n, t in enumerate(totals))
    return check_relapse(RULE, (), results, CONFIG) is not None


def test_instrument_path() -> None:
    assert fires([12, 6, 9, 9])  # response (6 = 50% of 12), then 9 and 9 (75%)
    assert not fires([12, 6, 9, 8])  # near miss: the second is under 75%
    assert not fires([12, 7, 9, 9])  # no response: 7 is more than half
    assert not fires([9, 4, 9, 9])  # a baseline of 9 is too low to count
    assert not fires([12, 6, 9, 9, 9])  # the episode fired on the fourth result already
    assert fires([12, 9, 5, 11, 12])  # the response may come late


def test_mood_path_after_a_stable_month() -> None:
    stable = [7] * 37  # baseline 7; 30 stable days before the last week
    # The last 7 days average 5 (2 below 7), the latest itself below baseline.
    alert = check_relapse(RULE, mood_days(stable + [5] * 7), (), CONFIG)
    assert alert is not None and dict(alert.values)["mean"] == 5
    # Near miss: the same week after a month with too few answers is not "stable".
    short = mood_days([7] * 7 + [5] * 7)
    assert check_relapse(RULE, short, (), CONFIG) is None
    # Not the first day of the decline: the mean rule held yesterday already.
    assert check_relapse(RULE, mood_days(stable + [5] * 8), (), CONFIG) is None


@given(st.lists(st.integers(0, 24), min_size=1, max_size=12))
def test_instrument_path_fires_at_most_once_per_run(totals: list[int]) -> None:
    """Over any series, two firings are separated by a result under 75% of baseline."""
    fired = [fires(totals[: n + 1]) for n in range(len(totals))]
    base = totals[0]
    for a in range(len(totals)):
        for b in range(a + 1, len(totals)):
            if fired[a] and fired[b]:
                assert any(t < 0.75 * base for t in totals[a + 1 : b + 1])


def test_a_new_course_restarts_the_relapse_baseline() -> None:
    """The baseline is the first result of the current course (course_start): results
    before the course's first day count for nothing."""
    results = tuple(phq9(n, t) for n, t in enumerate([20, 12, 6, 9, 9]))
    # One course since enrolment: baseline 20; 9 is under 75% of 20, so no relapse.
    assert check_relapse(RULE, (), results, CONFIG) is None
    # A course from the second result on: baseline 12; 6 met response; 9 and 9 are 75%.
    alert = check_relapse(RULE, (), results, CONFIG, course_start=results[1].local_date)
    assert alert is not None and dict(alert.values)["baseline_total"] == 12
    # A course from the third result on: baseline 6, too low to count.
    assert check_relapse(RULE, (), results, CONFIG, course_start=results[2].local_date) is None
    # A course starting after the last result: no baseline yet.
    later = results[-1].local_date + timedelta(days=1)
    assert check_relapse(RULE, (), results, CONFIG, course_start=later) is None


def test_mood_path_counts_only_the_current_course() -> None:
    """The stable month must lie in the current course: a restart a week before the
    decline leaves too few answers for it."""
    checkins = mood_days([7] * 37 + [5] * 7)
    assert check_relapse(RULE, checkins, (), CONFIG) is not None
    restart = checkins[-14].local_date
    assert check_relapse(RULE, checkins, (), CONFIG, course_start=restart) is None

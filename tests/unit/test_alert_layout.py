"""Laying out alert events in group messages (pure): order, packing, review times."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.alert_layout import (
    ALERT_RESERVE,
    GROUP_LIMIT,
    Budget,
    chunk,
    event_order,
    group_budget,
    pack,
    review_by,
)
from bot.domain.alerts import Tier
from bot.domain.coverage import Coverage

NY = ZoneInfo("America/New_York")
WEEKDAYS = Coverage(frozenset(range(5)), time(9, 0), time(17, 0), NY)
T0 = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Ev:
    """A stand-in event: its id, whether it is IMMEDIATE, and the size of its text."""

    id: int
    immediate: bool
    size: int = 100


def _fits(limit: int = 1000, most: int = 10) -> Callable[[Sequence[Ev]], bool]:
    def fits(events: Sequence[Ev]) -> bool:
        return len(events) <= most and sum(e.size for e in events) <= limit

    return fits


def _pack(events: list[Ev], total: int, reserve: int = 0, **kw: int) -> list[list[Ev]]:
    return pack(
        events,
        budget=Budget(total, reserve),
        immediate=lambda e: e.immediate,
        fits=_fits(**kw),
    )


def test_event_order_puts_immediate_first_then_oldest() -> None:
    keys = [
        event_order(Tier.URGENT, T0, 1),
        event_order(Tier.IMMEDIATE, T0 + timedelta(minutes=5), 3),
        event_order(Tier.IMMEDIATE, T0, 2),
        event_order(Tier.URGENT, T0, 0),
    ]
    assert sorted(keys) == [keys[2], keys[1], keys[3], keys[0]]


def test_one_message_per_event_while_the_budget_has_room() -> None:
    events = [Ev(1, True), Ev(2, False), Ev(3, False)]
    assert _pack(events, total=16, reserve=4) == [[e] for e in events]


def test_a_burst_is_packed_in_order_into_few_messages() -> None:
    events = [Ev(i, i < 3) for i in range(25)]
    messages = _pack(events, total=16, reserve=4)
    assert [[e.id for e in m] for m in messages] == [
        list(range(10)),
        list(range(10, 20)),
        list(range(20, 25)),
    ]


def test_what_the_budget_cannot_take_waits_and_urgent_leaves_the_reserve() -> None:
    events = [Ev(i, i < 5) for i in range(40)]
    # 4 places, all reserved: only a message led by an IMMEDIATE event may go (the URGENT
    # events after the IMMEDIATE ones ride along in its free room).
    messages = _pack(events, total=4, reserve=4)
    assert [[e.id for e in m] for m in messages] == [list(range(10))]
    # 2 places for URGENT: a second message, then the rest waits.
    assert [len(m) for m in _pack(events, total=6, reserve=4)] == [10, 10]
    assert _pack(events, total=0) == []


def test_text_size_limits_a_message_and_an_oversized_event_still_goes_alone() -> None:
    events = [Ev(1, True, 600), Ev(2, True, 600), Ev(3, False, 5000), Ev(4, False, 10)]
    messages = _pack(events, total=3)
    assert [[e.id for e in m] for m in messages] == [[1], [2], [3]]
    assert [[e.id for e in m] for m in chunk(events, fits=_fits())] == [
        [1],
        [2],
        [3],
        [4],
    ]


@given(
    st.lists(st.tuples(st.booleans(), st.integers(1, 1500)), max_size=120),
    st.integers(0, 20),
    st.integers(0, 6),
    st.integers(1, 12),
)
def test_packing_never_drops_duplicates_or_reorders(
    spec: list[tuple[bool, int]], total: int, reserve: int, most: int
) -> None:
    raw = [Ev(i, imm, size) for i, (imm, size) in enumerate(spec)]
    events = sorted(raw, key=lambda e: (not e.immediate, e.id))
    reserve = min(reserve, total)
    messages = _pack(events, total, reserve, most=most)
    posted = [e for m in messages for e in m]
    # In order and without duplicates: a prefix of the queue; the rest waits.
    assert posted == events[: len(posted)]
    assert len(messages) <= total
    assert all(m for m in messages)
    for i, m in enumerate(messages):
        assert len(m) == 1 or _fits(most=most)(m)
        if not m[0].immediate:
            assert i < total - reserve  # URGENT never takes the IMMEDIATE reserve
    if len(posted) < len(events):
        assert len(messages) >= (total - reserve if not events[len(posted)].immediate else total)
    # Without a budget limit everything goes, each message full before the next begins.
    chunks = chunk(events, fits=_fits(most=most))
    assert [e for m in chunks for e in m] == events
    for before, after in itertools.pairwise(chunks):
        assert not _fits(most=most)([*before, after[0]])


@pytest.mark.parametrize(
    ("raised", "due"),
    [
        # Tuesday 10:00 New York, in hours: 4 business hours later.
        (datetime(2026, 1, 13, 10, 0, tzinfo=NY), datetime(2026, 1, 13, 14, 0, tzinfo=NY)),
        # Tuesday 15:00: 2 h today, 2 h from Wednesday's start.
        (datetime(2026, 1, 13, 15, 0, tzinfo=NY), datetime(2026, 1, 14, 11, 0, tzinfo=NY)),
        # Friday 16:00: 1 h today, 3 h on Monday.
        (datetime(2026, 1, 16, 16, 0, tzinfo=NY), datetime(2026, 1, 19, 12, 0, tzinfo=NY)),
        # Tuesday 18:00, after hours: noon the next business day.
        (datetime(2026, 1, 13, 18, 0, tzinfo=NY), datetime(2026, 1, 14, 12, 0, tzinfo=NY)),
        # Tuesday 07:00, before hours: that day is the next business day.
        (datetime(2026, 1, 13, 7, 0, tzinfo=NY), datetime(2026, 1, 13, 12, 0, tzinfo=NY)),
        # Saturday: Monday noon.
        (datetime(2026, 1, 17, 11, 0, tzinfo=NY), datetime(2026, 1, 19, 12, 0, tzinfo=NY)),
    ],
)
def test_review_by_follows_business_hours(raised: datetime, due: datetime) -> None:
    assert review_by(raised, WEEKDAYS) == due


def test_review_by_noon_stays_inside_short_hours_and_no_coverage_means_always_watched() -> None:
    afternoons = Coverage(frozenset(range(5)), time(13, 0), time(17, 0), NY)
    raised = datetime(2026, 1, 13, 18, 0, tzinfo=NY)
    assert review_by(raised, afternoons) == datetime(2026, 1, 14, 13, 0, tzinfo=NY)
    assert review_by(T0, None) == T0 + timedelta(hours=4)
    with pytest.raises(ValueError, match="aware"):
        review_by(datetime(2026, 1, 13, 10, 0), WEEKDAYS)  # naive on purpose


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)))
def test_review_by_is_after_raising_and_inside_coverage(naive: datetime) -> None:
    raised = naive.replace(tzinfo=UTC)
    due = review_by(raised, WEEKDAYS)
    assert raised < due <= raised + timedelta(days=4, hours=4)
    local = due.astimezone(NY)
    assert local.weekday() < 5 and time(9, 0) < local.time() <= time(17, 0)


def test_the_teams_commands_never_take_the_alert_reserve() -> None:
    # A calm group: the alerts' share, 4 of it for IMMEDIATE.
    assert group_budget(share=16, reserve=4, alerts_used=0, routine_used=0) == Budget(16, 4)
    # The team used its minute (and more waits): IMMEDIATE keeps places, URGENT gets two.
    full = group_budget(share=16, reserve=4, alerts_used=0, routine_used=40)
    assert full == Budget(ALERT_RESERVE, ALERT_RESERVE // 2)
    assert full.allows(0, immediate=True) and full.allows(0, immediate=False)
    assert group_budget(share=16, reserve=4, alerts_used=4, routine_used=40).total == 0


@given(
    share=st.integers(0, GROUP_LIMIT),
    reserve=st.integers(0, 8),
    alerts=st.integers(0, 30),
    routine=st.integers(0, 60),
)
def test_alert_room_never_goes_below_the_reserve_for_routine_use(
    share: int, reserve: int, alerts: int, routine: int
) -> None:
    budget = group_budget(share=share, reserve=reserve, alerts_used=alerts, routine_used=routine)
    assert 0 <= budget.total <= max(0, share - alerts)
    # However many routine messages, the alerts' room is what a calm group's would be,
    # down to the reserve.
    calm = group_budget(share=share, reserve=reserve, alerts_used=alerts, routine_used=0)
    assert budget.total >= min(calm.total, max(0, ALERT_RESERVE - alerts))


def test_top_priority_comes_first_within_its_tier_only() -> None:
    keys = [
        event_order(Tier.URGENT, T0, 1),
        event_order(Tier.URGENT, T0 + timedelta(minutes=5), 2, top=True),
        event_order(Tier.IMMEDIATE, T0 + timedelta(minutes=9), 3),
    ]
    assert sorted(keys) == [keys[2], keys[1], keys[0]]

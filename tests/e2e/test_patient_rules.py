"""Patient-level rules through the real stack: history from the database, the engine, and
one group message per event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.sandbox.users import SimUser
from storage.models import Alert
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import CALM_DAY, Answers, answer_all, enrol
from tests.support.harness import Harness

# clinic-a: New York, check-in at 09:00. 15:00 UTC is 10:00 there.
DAY1 = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)
# Enrolled on Monday 2026-01-12 at 08:00 New York: the first prompt is that day at 09:00, and
# its window closes at local midnight (05:00 UTC).
FIRST_PROMPT = datetime(2026, 1, 12, 14, 0, 5, tzinfo=UTC)
FIRST_CLOSE = datetime(2026, 1, 13, 5, 0, 1, tzinfo=UTC)
URINARY = "Needing to urinate urgently or often"


def _day(mood: str = "7", side_effects: list[str] | None = None) -> Answers:
    if side_effects:
        return {**CALM_DAY, "mood": mood, "side_effects": tuple(side_effects), "bother": "Mild"}
    return {**CALM_DAY, "mood": mood}


async def _checkin_on(h: Harness, user: SimUser, day: int, labels: Answers) -> None:
    h.clock.set(DAY1 + timedelta(days=day))
    await h.send(user, "/checkin")
    await answer_all(h, user, labels)


async def _alerts(h: Harness, rule: str) -> list[Alert]:
    return await h.rows(select(Alert).where(Alert.rule == rule))


def _group_texts(h: Harness) -> list[str]:
    return [m.text for m in h.server.group(GROUP_A).messages]


async def test_mood_two_or_lower_two_days_in_a_row_is_urgent(harness: Harness) -> None:
    h = harness
    user = h.server.user(8001, first_name="Pat")
    await enrol(h, user, "P-8001")
    await _checkin_on(h, user, 0, _day(mood="2"))
    assert await _alerts(h, "mood_low_2_in_a_row") == []
    assert _group_texts(h) == []
    await _checkin_on(h, user, 1, _day(mood="1"))
    [alert] = await _alerts(h, "mood_low_2_in_a_row")
    assert alert.tier == "URGENT" and alert.event_key == "2026-01-14"
    [text] = _group_texts(h)
    assert "🟠 URGENT" in text and "P-8001" in text
    assert "Mood 2 or lower on two check-ins in a row" in text
    assert "notified" in h.server.user(8001).messages[-1].text  # the check-in says so
    assert h.server.group(GROUP_A).messages[0].labels == ["Acknowledge", "Resolve"]


async def test_low_mood_broken_by_a_better_day_does_not_fire(harness: Harness) -> None:
    h = harness
    user = h.server.user(8002, first_name="Pat")
    await enrol(h, user, "P-8002")
    await _checkin_on(h, user, 0, _day(mood="2"))
    await _checkin_on(h, user, 1, _day(mood="5"))
    await _checkin_on(h, user, 2, _day(mood="2"))
    assert await _alerts(h, "mood_low_2_in_a_row") == []
    assert _group_texts(h) == []


async def _miss_days(h: Harness, days: int) -> None:
    """Prompt at 09:00 New York and let the day close unanswered, ``days`` times."""
    for n in range(days):
        h.clock.set(FIRST_PROMPT + timedelta(days=n))
        await h.due_scan()
        h.clock.set(FIRST_CLOSE + timedelta(days=n))
        await h.runtime.services.window_scan.run()
        await h.settle()


async def test_three_missed_in_a_row_is_urgent_two_is_routine_and_not_posted(
    harness: Harness,
) -> None:
    h = harness
    user = h.server.user(8003, first_name="Pat")
    await enrol(h, user, "P-8003")
    await _miss_days(h, 2)
    [routine] = await _alerts(h, "missed_checkins")
    assert routine.tier == "ROUTINE"
    assert _group_texts(h) == []  # ROUTINE: stored for the digest, not posted
    await _miss_days_from(h, 2, 1)
    alerts = await _alerts(h, "missed_checkins")
    assert [a.tier for a in alerts] == ["ROUTINE", "URGENT"]
    [text] = _group_texts(h)
    assert "🟠 URGENT" in text and "P-8003" in text and "Missed check-ins in a row" in text


async def _miss_days_from(h: Harness, start: int, days: int) -> None:
    for n in range(start, start + days):
        h.clock.set(FIRST_PROMPT + timedelta(days=n))
        await h.due_scan()
        h.clock.set(FIRST_CLOSE + timedelta(days=n))
        await h.runtime.services.window_scan.run()
        await h.settle()


async def test_missed_days_broken_by_a_checkin_do_not_fire(harness: Harness) -> None:
    h = harness
    user = h.server.user(8004, first_name="Pat")
    await enrol(h, user, "P-8004")
    await _miss_days(h, 2)
    # Day 3: the prompt comes and the patient answers it.
    h.clock.set(FIRST_PROMPT + timedelta(days=2))
    await h.due_scan()
    await answer_all(h, user, _day())
    await _miss_days_from(h, 3, 1)
    assert [a.tier for a in await _alerts(h, "missed_checkins")] == ["ROUTINE"]
    assert _group_texts(h) == []


async def test_urinary_frequency_three_times_in_seven_days_is_urgent(harness: Harness) -> None:
    h = harness
    user = h.server.user(8005, first_name="Pat")
    await enrol(h, user, "P-8005")
    for day in (0, 3):
        await _checkin_on(h, user, day, _day(side_effects=[URINARY]))
    assert await _alerts(h, "urinary_frequency_3_in_7_days") == []
    await _checkin_on(h, user, 6, _day(side_effects=[URINARY]))
    [alert] = await _alerts(h, "urinary_frequency_3_in_7_days")
    assert alert.tier == "URGENT"
    texts = _group_texts(h)
    assert len(texts) == 1
    assert "🟠 URGENT" in texts[0] and "Urinary frequency reported 3 times in 7 days" in texts[0]


async def test_urinary_frequency_spread_over_more_than_seven_days_does_not_fire(
    harness: Harness,
) -> None:
    h = harness
    user = h.server.user(8006, first_name="Pat")
    await enrol(h, user, "P-8006")
    for day in (0, 4, 8):
        await _checkin_on(h, user, day, _day(side_effects=[URINARY]))
    assert await _alerts(h, "urinary_frequency_3_in_7_days") == []
    assert _group_texts(h) == []

"""Alerts say what fired them: the values and the baseline, under the rule's display name, in
the group alert, /alerts and /patient; never a rule id (issue 12, item 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.sandbox.users import SimUser
from storage.models import Alert
from tests.e2e.conftest import GROUP_A, GROUP_D
from tests.e2e.flows import CALM_DAY, Answers, answer_all, enrol, last, press_all
from tests.support.harness import Harness

DAY1 = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)  # 10:00 in New York (clinic-a)
RULE_IDS = ("mood_below_baseline_2_in_a_row", "mood_single_day_drop", "phq9_item9_positive")


def _day(mood: str) -> Answers:
    return {**CALM_DAY, "mood": mood}


async def _checkin_on(h: Harness, user: SimUser, day: int, mood: str) -> None:
    h.clock.set(DAY1 + timedelta(days=day))
    await h.send(user, "/checkin")
    await answer_all(h, user, _day(mood))


def _group_texts(h: Harness, group: int) -> list[str]:
    return [m.text for m in h.server.group(group).messages]


async def test_a_baseline_alert_shows_the_value_and_the_baseline(harness: Harness) -> None:
    h = harness
    user = h.server.user(8101, first_name="Pat")
    await enrol(h, user, "P-8101")
    for day in range(7):  # the first seven answers set the baseline: median 7
        await _checkin_on(h, user, day, "7")
    await _checkin_on(h, user, 7, "3")  # one day 4 below: ROUTINE, stored, not posted
    assert _group_texts(h, GROUP_A) == []
    await _checkin_on(h, user, 8, "3")
    [alert] = await h.rows(select(Alert).where(Alert.rule == "mood_below_baseline_2_in_a_row"))
    assert alert.details == {
        "kind": "baseline_shift",
        "item": "mood",
        "value": 3,
        "baseline": 7,
        "count": 2,
    }
    [text] = _group_texts(h, GROUP_A)
    assert "Mood 3 or more below the patient's baseline on two check-ins in a row" in text
    assert "mood 3, baseline 7 (2 check-ins)" in text

    nurse = h.server.group(GROUP_A).member(9101, first_name="Nora")
    await h.send(nurse, "/alerts")
    listing = last(nurse).text
    assert "mood 3, baseline 7 (2 check-ins)" in listing
    # The ROUTINE single-day drop is listed too, by name, with its values.
    assert "Mood 3 or more below the patient's baseline on one check-in" in listing
    assert "mood 3, baseline 7 (1 check-in)" in listing
    await h.send(nurse, "/patient P-8101")
    shown = last(nurse).text
    assert "Mood 3 or more below the patient's baseline on two check-ins in a row" in shown
    for text in (*_group_texts(h, GROUP_A), listing, shown):
        assert not any(rule in text for rule in RULE_IDS)


async def test_an_instrument_alert_shows_the_item_score_and_its_meaning(harness: Harness) -> None:
    h = harness
    user = h.server.user(8102, first_name="Wren")
    await enrol(h, user, "P-8102", cohort="clinic-d")  # Monday: PHQ-9 and GAD-7 today
    await h.send(user, "/checkin")
    await answer_all(h, user, CALM_DAY)
    # Item 9 above 0 brings its follow-up (acting on it, or unsafe now?): "No".
    await press_all(h, user, ["Not at all"] * 8 + ["Nearly every day", "No", "Somewhat difficult"])
    # Item 9 = 3 is the top-priority URGENT rule (item 9 = 1 has its own, below).
    [alert] = await h.rows(select(Alert).where(Alert.rule == "phq9_item9_frequent"))
    assert alert.details == {"kind": "answer", "item": "phq9_9", "value": "3"}
    text = _group_texts(h, GROUP_D)[0]
    assert "PHQ-9 item 9 = 2 or 3" in text and "top priority" in text
    assert "PHQ-9 item 9 = 3 (Nearly every day)" in text
    assert "phq9_item9_frequent" not in text


async def test_an_instrument_item_of_one_reads_differently_from_three(harness: Harness) -> None:
    h = harness
    user = h.server.user(8103, first_name="Wren")
    await enrol(h, user, "P-8103", cohort="clinic-d")
    await h.send(user, "/checkin")
    await answer_all(h, user, CALM_DAY)
    await press_all(h, user, ["Not at all"] * 8 + ["Several days", "No", "Somewhat difficult"])
    text = _group_texts(h, GROUP_D)[0]
    assert "PHQ-9 item 9 = 1 (Several days)" in text


async def test_an_instrument_total_alert_shows_the_total(harness: Harness) -> None:
    h = harness
    user = h.server.user(8104, first_name="Wren")
    await enrol(h, user, "P-8104", cohort="clinic-d")
    await h.send(user, "/checkin")
    await answer_all(h, user, CALM_DAY)
    await press_all(h, user, ["Nearly every day"] * 9 + ["No", "Extremely difficult"])
    await press_all(h, user, ["Not at all"] * 7)  # GAD-7
    await press_all(h, user, ["A little bit"] * 20)  # PCL-5: the check-in ends
    [alert] = await h.rows(select(Alert).where(Alert.rule == "phq9_total_20"))
    assert alert.details == {"kind": "instrument_total", "instrument": "phq9", "total": 27}
    texts = _group_texts(h, GROUP_D)
    assert any("PHQ-9 total 20 or more" in t and "PHQ-9 total 27" in t for t in texts)
    assert not any("phq9_total_20" in t for t in texts)

"""Weekly instruments in a message of their own (``instrument_delivery = "own_message"``).

Cohort clinic-e asks the PHQ-9 and GAD-7 on Mondays, apart from the daily items: the daily
part ends as any day does (thank-you, rules, alerts), then a new message asks the instruments.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.domain.callback_data import AnswerButton, BackButton, SkipButton, encode
from bot.domain.clock import ManualClock
from bot.sandbox.users import SimUser
from storage.models import Alert, Answer, Checkin
from tests.conftest import CONFIG
from tests.e2e.flows import CALM_DAY, answer_all, enrol, last, message, press_all
from tests.support.harness import Harness

GROUP_E = -100555
OWN_MESSAGE_COHORT = """
[[cohort]]
name = "clinic-e"
provider_chat_id = -100555
coverage = "24/7"
timezone = "UTC"
locale = "en"
region = "UK"
weekly_instruments = ["phq9", "gad7"]
instrument_weekday = "mon"
instrument_delivery = "own_message"
"""

LOW_DAY = {**CALM_DAY, "mood": "2"}  # mood 2: twice in a row fires mood_low_2_in_a_row (URGENT)
# Total 27, item 9 = 3: the D7b follow-up ("No") comes before the difficulty question.
PHQ9_SEVERE = ["Nearly every day"] * 9 + ["No", "Very difficult"]
GAD7 = ["Several days"] * 7
SUNDAY = datetime(2026, 1, 11, 10, 0, tzinfo=UTC)
MONDAY = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)
TUESDAY = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
DAILY_ITEMS = 9  # the daily questionnaire's items, follow-ups included
STALE = "This message is finished. Please answer in the newest message."


@pytest.fixture(name="config_path")
def fx_config_path(tmp_path: Path) -> Path:
    path = tmp_path / "moodcheck.toml"
    path.write_text(CONFIG + OWN_MESSAGE_COHORT)
    return path


@pytest.fixture(name="clock")
def fx_clock() -> ManualClock:
    return ManualClock(SUNDAY)  # the day before an instrument day


async def _monday_patient(h: Harness, user_id: int, label: str) -> SimUser:
    """A clinic-e patient enrolled on the Sunday before an instrument day."""
    h.server.group(GROUP_E, title="Clinic E providers")
    user = h.server.user(user_id, first_name=label)
    await enrol(h, user, label, cohort="clinic-e")
    return user


async def _checkin(h: Harness) -> Checkin:
    checkin = await h.scalar(select(Checkin).where(Checkin.local_date == MONDAY.date()))
    assert checkin is not None
    return checkin


async def _alerts(h: Harness, rule: str) -> int:
    return await h.count(Alert, Alert.rule == rule)


async def test_daily_part_finishes_first_then_the_instruments_come_apart(
    harness: Harness,
) -> None:
    h = harness
    user = await _monday_patient(h, 9001, "P-9001")
    await h.send(user, "/checkin")
    await answer_all(h, user, {**CALM_DAY, "mood": "1"})  # Sunday: mood 1
    group = h.server.group(GROUP_E)
    assert group.messages == []

    h.clock.set(MONDAY)
    await h.send(user, "/checkin")
    daily = last(user).message_id
    assert "Daily check-in" in last(user).text and "1/7" in last(user).text
    await answer_all(h, user, LOW_DAY)

    # The daily part is finished exactly as a normal day is, and its rules ran at once.
    assert "Daily check-in · done" in message(user, daily).text
    assert "care team has been notified" in message(user, daily).text
    assert message(user, daily).buttons == []
    checkin = await _checkin(h)
    assert checkin.status == "completed" and checkin.completed_at == MONDAY
    assert checkin.questionnaire == "daily/phq9+gad7"
    assert await _alerts(h, "mood_low_2_in_a_row") == 1
    assert len(group.messages) == 1 and "P-9001" in group.messages[0].text
    assert await h.count(Answer) == 14  # 7 on Sunday, 7 today: no instrument answer yet

    # The instruments come as a new message, with an intro and their own progress.
    weekly = last(user)
    assert weekly.message_id != daily
    assert "standard questions" in weekly.text and "Weekly questions · 1/17" in weekly.text
    assert "Over the last 2 weeks" in weekly.text
    assert "« Back" not in weekly.labels  # Back never reaches into the finished daily part
    assert "Skip questions" in weekly.labels

    await press_all(h, user, PHQ9_SEVERE)
    await press_all(h, user, GAD7)

    final = message(user, weekly.message_id)
    assert "Weekly questions · done" in final.text and final.buttons == []
    assert "care team has been notified" in final.text
    values = dict(
        await h.rows(select(Answer.item_id, Answer.value).where(Answer.checkin_id == checkin.id))
    )
    assert len(values) == 7 + 17 + 1  # and the item 9 follow-up
    assert values["phq9_9"] == "3" and values["difficulty"] == "very" and values["gad7_7"] == "1"
    assert values["phq9_9_now"] == "no"
    checkin = await _checkin(h)
    assert (checkin.status, checkin.item) == ("completed", None)  # nothing left to ask
    assert checkin.completed_at == MONDAY  # the day was done when the daily part was

    # Item 9 at its tap (with the crisis card), the total when the PHQ-9 ends: once each.
    assert await _alerts(h, "phq9_item9_frequent") == 1  # item 9 = 3: top priority
    assert await _alerts(h, "phq9_total_20") == 1
    assert any("116 123" in m.text for m in user.messages)
    assert any("PHQ-9 item 9" in m.text for m in group.messages)

    # Another day's rules run again; the instrument's alerts are not raised twice.
    h.clock.set(TUESDAY)
    await h.send(user, "/checkin")
    await answer_all(h, user, CALM_DAY)
    assert await _alerts(h, "phq9_item9_frequent") == 1
    assert await _alerts(h, "phq9_total_20") == 1
    assert await _alerts(h, "mood_low_2_in_a_row") == 1


async def test_a_stale_tap_on_the_finished_daily_message_changes_nothing(
    harness: Harness,
) -> None:
    h = harness
    user = await _monday_patient(h, 9002, "P-9002")
    h.clock.set(MONDAY)
    await h.send(user, "/checkin")
    daily = last(user).message_id
    await answer_all(h, user, CALM_DAY)
    weekly = last(user)
    # Back works inside the instruments' message as in the daily one, and stays in it.
    await h.press(user, "Several days")
    assert "2/17" in message(user, weekly.message_id).text
    await h.press(user, "« Back")
    assert "1/17" in message(user, weekly.message_id).text
    assert "« Back" not in message(user, weekly.message_id).labels
    assert await h.count(Answer) == 7
    await h.press(user, "Not at all")
    weekly = last(user)
    assert "2/17" in weekly.text
    before = (weekly.text, weekly.labels)
    checkin = await _checkin(h)
    assert checkin.item == "phq9_2"

    stale: list[AnswerButton | BackButton | SkipButton] = [
        AnswerButton(checkin.id, "mood", "5"),
        AnswerButton(checkin.id, "phq9_2", "2"),  # the live item, from the wrong message
        BackButton(checkin.id, "safety_now"),
        SkipButton(checkin.id),
        # The same, as buttons sent before they named items by id (by position).
        AnswerButton(checkin.id, 0, "5"),
        AnswerButton(checkin.id, DAILY_ITEMS + 1, "2"),
        BackButton(checkin.id, 8),
    ]
    for data in stale:
        await h.press_data(user, daily, encode(data))
        assert user.callback_answers[-1].text == STALE

    assert await h.count(Answer) == 8
    checkin = await _checkin(h)
    assert (checkin.status, checkin.item) == ("completed", "phq9_2")
    assert (last(user).text, last(user).labels) == before
    assert "Daily check-in · done" in message(user, daily).text


async def test_skipping_the_day_still_offers_the_instruments(harness: Harness) -> None:
    h = harness
    user = await _monday_patient(h, 9003, "P-9003")
    h.clock.set(MONDAY)
    await h.send(user, "/checkin")
    daily = last(user).message_id
    await h.press(user, "7")
    await h.press(user, "Skip today")
    assert "skipped today" in message(user, daily).text
    weekly = last(user)
    assert weekly.message_id != daily and "Weekly questions · 1/17" in weekly.text
    checkin = await _checkin(h)
    assert checkin.status == "skipped" and checkin.item == "phq9_1"

    await press_all(h, user, ["Not at all"] * 3)
    # Skipping the questions leaves them unanswered; the day stays skipped.
    await h.press(user, "Skip questions")
    assert "Weekly questions · skipped" in message(user, weekly.message_id).text
    assert message(user, weekly.message_id).buttons == []
    checkin = await _checkin(h)
    assert (checkin.status, checkin.item) == ("skipped", None)
    assert await h.count(Answer) == 4
    await h.send(user, "/checkin")
    assert "already done" in last(user).text


async def test_a_stopped_day_asks_nothing_more(harness: Harness) -> None:
    h = harness
    user = await _monday_patient(h, 9004, "P-9004")
    h.clock.set(MONDAY)
    await h.send(user, "/checkin")
    await answer_all(
        h, user, {**CALM_DAY, "safety": "Yes", "safety_now": "Yes"}
    )  # unsafe now: IMMEDIATE, stop
    checkin = await _checkin(h)
    assert checkin.status == "stopped"
    assert not any("Weekly questions" in m.text for m in user.messages)
    assert await _alerts(h, "safety_unsafe_now") == 1


async def test_restart_and_checkin_mid_questionnaire_keep_the_position(
    harness: Harness,
) -> None:
    h = harness
    user = await _monday_patient(h, 9005, "P-9005")
    h.clock.set(MONDAY)
    await h.send(user, "/checkin")
    await answer_all(h, user, CALM_DAY)
    await press_all(h, user, ["Not at all"] * 4)
    weekly = last(user).message_id
    assert "5/17" in last(user).text

    await h.stop_bot()
    await h.start_bot()
    await h.press(user, "Several days", message_id=weekly)
    assert "6/17" in message(user, weekly).text

    # /checkin asks the current question again in a new message; the old one is retired.
    await h.send(user, "/checkin")
    again = last(user)
    assert again.message_id != weekly and "Weekly questions · 6/17" in again.text
    assert "continued in the message below" in message(user, weekly).text
    await h.press_data(user, weekly, encode(AnswerButton((await _checkin(h)).id, "phq9_6", "1")))
    assert user.callback_answers[-1].text == STALE
    await h.press(user, "Several days", message_id=again.message_id)
    assert "7/17" in message(user, again.message_id).text
    assert await h.count(Answer) == 7 + 6


async def test_an_unfinished_questionnaire_leaves_the_day_completed(harness: Harness) -> None:
    h = harness
    user = await _monday_patient(h, 9006, "P-9006")
    h.clock.set(MONDAY)
    await h.send(user, "/checkin")
    await answer_all(h, user, CALM_DAY)
    await press_all(h, user, ["Not at all"] * 2)
    weekly = last(user).message_id

    # The end of the window: nothing to close, the day stays completed, not partial.
    h.clock.set(datetime(2026, 1, 13, 0, 0, 1, tzinfo=UTC))
    assert await h.runtime.services.window_scan.run() == (0, 0)
    checkin = await _checkin(h)
    assert checkin.status == "completed"
    # A tap after the window is refused, and the questions close with their answers kept.
    await h.press(user, "Not at all", message_id=weekly)
    assert user.callback_answers[-1].text.startswith("This check-in has closed")
    assert "Weekly questions · closed" in message(user, weekly).text
    assert message(user, weekly).buttons == []
    assert await h.count(Answer) == 7 + 2
    rows = await h.rows(select(Checkin.status, func.count()).group_by(Checkin.status))
    assert rows == [("completed", 1)]

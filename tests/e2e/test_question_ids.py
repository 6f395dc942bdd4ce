"""Questions are addressed by id (docs/architecture.md): a question added to the questionnaire
file while a check-in is open leaves it at the same question, and buttons sent before buttons
named questions by id (by position) still work for a patient in the middle of a check-in.

The first tests use the tests' own questionnaire (cohort clinic-t, tests/support/
questionnaire.py); the last is about the real daily questions (its safety question).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import load_config
from bot.sandbox.users import SimUser
from storage.models import Alert, Answer, Checkin
from tests.conftest import CONFIG
from tests.e2e.flows import CALM_DAY, answer_day, enrol, last, message, press_all
from tests.support.harness import Harness
from tests.support.questionnaire import (
    EXTRA,
    SMALL_COHORT,
    SMALL_FILE,
    copy_small_daily,
    insert_item,
)


@pytest.fixture(name="config_path")
def fx_config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The cohort names its questionnaire by a path relative to the working folder.
    monkeypatch.chdir(tmp_path)
    copy_small_daily(tmp_path)
    path = tmp_path / "moodcheck.toml"
    path.write_text(CONFIG + SMALL_COHORT)
    return path


async def _answers(h: Harness) -> dict[str, str]:
    return dict(await h.rows(select(Answer.item_id, Answer.value)))


async def _checkin(h: Harness) -> Checkin:
    checkin = await h.scalar(select(Checkin))
    assert checkin is not None
    return checkin


async def _add_question(h: Harness, config_path: Path, before: str) -> None:
    """The clinic adds a daily question to the file and restarts the bot."""
    insert_item(config_path.parent / SMALL_FILE, before, EXTRA)
    await h.stop_bot()
    h.config = load_config(config_path)
    ids = [item.id for item in h.config.questionnaires[SMALL_FILE].items]
    assert ids.index("extra") == ids.index(before) - 1
    await h.start_bot()


async def _start(h: Harness, user_id: int) -> tuple[SimUser, int]:
    user = h.server.user(user_id, first_name="Tess")
    await enrol(h, user, f"P-{user_id}", cohort="clinic-t")
    await h.send(user, "/checkin")
    return user, last(user).message_id


async def test_a_question_added_before_the_one_asked_leaves_the_check_in_at_it(
    harness: Harness, config_path: Path
) -> None:
    h = harness
    user, checkin_message = await _start(h, 8101)
    await press_all(h, user, ["3", "Beta", "Red"])  # at the ticks, one ticked
    assert "3/4" in last(user).text and "Test ticks" in last(user).text
    assert (await _checkin(h)).item == "ticks"

    # Added where the check-in stands: by position it would now be asking the new question.
    await _add_question(h, config_path, before="ticks")

    # The message already sent still answers the ticks, with the box ticked before.
    await h.press(user, "Blue", message_id=checkin_message)
    asked = message(user, checkin_message)
    assert "Test ticks" in asked.text and "4/5" in asked.text  # the new question counts
    assert {"✅ Red", "✅ Blue"} <= set(asked.labels)
    # /checkin asks the same question again, in a new message, as it stands.
    await h.send(user, "/checkin")
    again = last(user)
    assert again.message_id != checkin_message
    assert "Test ticks" in again.text and {"✅ Red", "✅ Blue"} <= set(again.labels)
    await press_all(h, user, ["Done", "Low", "Not so"])

    assert await _answers(h) == {
        "rating": "3",
        "pick": "beta",
        "ticks": "red,blue",
        "ticks_rate": "low",
        "sure": "no",
    }
    checkin = await _checkin(h)
    assert (checkin.status, checkin.item) == ("completed", None)
    assert "Thank you" in message(user, again.message_id).text


async def test_a_question_added_ahead_is_asked_when_the_check_in_gets_there(
    harness: Harness, config_path: Path
) -> None:
    h = harness
    user, checkin_message = await _start(h, 8102)
    await h.press(user, "2")
    assert "Test pick" in last(user).text
    await _add_question(h, config_path, before="sure")

    await h.press(user, "Alpha", message_id=checkin_message)
    await h.press(user, "None of them", message_id=checkin_message)
    assert "Test question added later" in message(user, checkin_message).text
    assert "4/5" in message(user, checkin_message).text
    await h.press(user, "« Back", message_id=checkin_message)  # Back by id, too
    assert "Test ticks" in message(user, checkin_message).text
    await press_all(h, user, ["None of them", "Up", "Not so"])
    assert await _answers(h) == {
        "rating": "2",
        "pick": "alpha",
        "ticks": "none",
        "extra": "up",
        "sure": "no",
    }


async def test_a_button_naming_another_or_no_question_changes_nothing(harness: Harness) -> None:
    h = harness
    user, checkin_message = await _start(h, 8103)
    await h.press(user, "1")
    checkin = await _checkin(h)
    cases = {
        f"a|{checkin.id}|rating|4": "Already recorded.",  # answered: a double tap
        f"a|{checkin.id}|ticks|red": "This button is not valid for you.",  # not asked yet
        f"a|{checkin.id}|appetite|1": "This button is not valid for you.",  # no such question
        f"b|{checkin.id}|rating": "Already recorded.",  # Back from a question answered
        f"d|{checkin.id}|pick": "This button is not valid for you.",  # not a multi-select
    }
    for data, notice in cases.items():
        await h.press_data(user, checkin_message, data)
        assert user.callback_answers[-1].text == notice, data
    assert await _answers(h) == {"rating": "1"}
    assert (await _checkin(h)).item == "pick"
    assert "Test pick" in message(user, checkin_message).text


async def test_buttons_sent_before_ids_still_work_in_the_middle_of_a_check_in(
    harness: Harness,
) -> None:
    # A patient mid check-in when the bot is upgraded has a message whose buttons carry
    # positions: every kind still works (the safety answer above all: its alert must go
    # out), judged exactly as a button naming the item by id.
    h = harness
    user = h.server.user(8104, first_name="Olek")
    await enrol(h, user, "P-8104")  # clinic-a: the real daily questions
    await h.send(user, "/checkin")
    checkin_message = last(user).message_id
    calm = {k: v for k, v in CALM_DAY.items() if k not in {"side_effects", "safety"}}
    await answer_day(h, user, calm, until="side_effects")
    checkin = await _checkin(h)
    assert checkin.item == "side_effects"  # position 5
    for data in (
        f"t|{checkin.id}|5|nausea",
        f"d|{checkin.id}|5",
        f"a|{checkin.id}|6|mild",  # bother
        f"a|{checkin.id}|2|4",  # sleep, answered already
        f"a|{checkin.id}|7|yes",  # safety
        f"b|{checkin.id}|8",  # Back from the follow-up
        f"a|{checkin.id}|7|yes",
        f"a|{checkin.id}|8|no",
    ):
        await h.press_data(user, checkin_message, data)
    notices = [a.text for a in user.callback_answers[-8:]]
    assert notices[3] == "Already recorded."
    assert await _answers(h) == {
        "mood": "7",
        "anxiety": "3",
        "sleep": "4",
        "energy": "4",
        "dose": "as_prescribed",
        "side_effects": "nausea",
        "bother": "mild",
        "safety": "yes",
        "safety_now": "no",
    }
    rules = {a.rule for a in await h.rows(select(Alert))}
    assert "safety_thoughts" in rules
    assert any("988" in m.text for m in user.messages)  # the crisis card
    checkin = await _checkin(h)
    assert (checkin.status, checkin.item) == ("completed", None)

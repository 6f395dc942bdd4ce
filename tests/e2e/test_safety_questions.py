"""The safety questions end to end (issue 12, items 7 and 8): D7, D7b and the PHQ-9 item 9
follow-up are never offered with Skip; "Prefer not to answer" is stored as such and shown to
the team; item 9 = 2-3 is URGENT with top priority, and item 9 with the follow-up answered
yes is IMMEDIATE. The rule-by-rule fires/quiet pairs are in tests/e2e/test_rule_scenarios.py.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.domain.callback_data import SkipButton, encode
from storage.models import Alert, Answer, Checkin, OutboxMessage
from tests.e2e.conftest import GROUP_A, GROUP_D
from tests.e2e.flows import TO_SAFETY, answer_all, answer_day, enrol, last, message, press_all
from tests.support.harness import Harness

SKIPS = {"Skip today", "Skip questions"}
PHQ9_TO_ITEM9 = ["Several days"] * 8


def _nurse(h: Harness, group: int = GROUP_A) -> object:
    return h.server.group(group).member(9001, first_name="Nurse")


async def test_skip_is_offered_before_the_safety_question_and_never_on_it(
    harness: Harness,
) -> None:
    h = harness
    user = h.server.user(6101, first_name="Sam")
    await enrol(h, user, "P-6101")
    await h.send(user, "/checkin")
    checkin_message = last(user).message_id
    assert "Skip today" in last(user).labels  # mood: the day may still be skipped
    await answer_day(h, user, TO_SAFETY, until="safety")
    d7 = message(user, checkin_message)
    assert "thoughts of death" in d7.text
    assert not SKIPS & set(d7.labels)
    assert {"No", "Yes", "Prefer not to answer", "« Back"} <= set(d7.labels)
    # A Skip from an older copy of the message (or forged) is refused at the safety question:
    # the day does not end before its answer.
    checkin = await h.scalar(select(Checkin))
    assert checkin is not None
    await h.press_data(user, checkin_message, encode(SkipButton(checkin.id)))
    assert "cannot be skipped" in user.callback_answers[-1].text
    checkin = await h.scalar(select(Checkin))
    assert checkin is not None and checkin.status == "open"
    await h.press(user, "Yes")
    d7b = message(user, checkin_message)  # the card came too, in a message of its own
    assert "unsafe right now" in d7b.text and not SKIPS & set(d7b.labels)
    await h.press(user, "No", checkin_message)
    checkin = await h.scalar(select(Checkin))
    assert checkin is not None and checkin.status == "completed"


async def test_prefer_not_to_answer_is_stored_and_shown_to_the_team(harness: Harness) -> None:
    h = harness
    user = h.server.user(6102, first_name="Ana")
    await enrol(h, user, "P-6102")
    await h.send(user, "/checkin")
    checkin_message = last(user).message_id
    await answer_all(h, user, {**TO_SAFETY, "safety": "Prefer not to answer"})
    answers = dict(await h.rows(select(Answer.item_id, Answer.value)))
    assert answers["safety"] == "declined"  # its own value, never "no"
    [alert] = await h.rows(select(Alert))
    assert (alert.rule, alert.tier) == ("safety_declined", "ROUTINE")
    assert h.server.group(GROUP_A).messages == []  # ROUTINE: digest, /alerts, /patient
    done = message(user, checkin_message)
    assert "done" in done.text and "notified" not in done.text  # nobody was told: not said
    nurse = _nurse(h)
    await h.send(nurse, "/patient P-6102")
    table = last(nurse).text
    assert " DECL" in table and "DECL = prefer not to answer" in table
    assert "safety_declined" in table or "prefer not to answer" in table.lower()


async def test_item9_two_or_three_is_urgent_with_top_priority(harness: Harness) -> None:
    h = harness
    user = h.server.user(6103, first_name="Lee")
    await enrol(h, user, "P-6103", cohort="clinic-d")  # PHQ-9 on Mondays, after the daily
    await h.send(user, "/checkin")
    checkin_message = last(user).message_id
    await answer_all(h, user, {**TO_SAFETY, "safety": "No"})
    await press_all(h, user, [*PHQ9_TO_ITEM9, "More than half the days"])
    follow_up = message(user, checkin_message)
    assert "unsafe right now" in follow_up.text and not SKIPS & set(follow_up.labels)
    assert {"No", "Yes", "Not sure"} <= set(follow_up.labels)
    [alert] = await h.rows(select(Alert))
    assert (alert.rule, alert.tier) == ("phq9_item9_frequent", "URGENT")
    group = h.server.group(GROUP_D).messages
    assert len(group) == 1 and "URGENT" in group[0].text and "top priority" in group[0].text
    # Sent with the IMMEDIATE messages, ahead of any other URGENT one or a fan-out.
    priority = await h.scalar(
        select(OutboxMessage.priority).where(OutboxMessage.chat_id == GROUP_D)
    )
    assert priority == 0
    assert any("116 123" in m.text for m in user.messages)  # the crisis card (UK)
    await h.press(user, "No", checkin_message)
    assert "difficult" in message(user, checkin_message).text  # on to its last question


async def test_item9_with_the_follow_up_yes_is_immediate_and_stops(harness: Harness) -> None:
    h = harness
    user = h.server.user(6104, first_name="Kim")
    await enrol(h, user, "P-6104", cohort="clinic-d")
    await h.send(user, "/checkin")
    checkin_message = last(user).message_id
    await answer_all(h, user, {**TO_SAFETY, "safety": "No"})
    await press_all(h, user, [*PHQ9_TO_ITEM9, "Several days", "Yes"])
    rules = sorted((a.rule, a.tier) for a in await h.rows(select(Alert)))
    assert rules == [("phq9_item9_positive", "URGENT"), ("phq9_item9_unsafe_now", "IMMEDIATE")]
    checkin = await h.scalar(select(Checkin))
    assert checkin is not None and checkin.status == "stopped"
    assert message(user, checkin_message).buttons == []  # no further questions
    assert any("🔴" in m.text for m in h.server.group(GROUP_D).messages)
    answers = dict(await h.rows(select(Answer.item_id, Answer.value)))
    assert answers["phq9_9"] == "1" and answers["phq9_9_now"] == "yes"
    assert "difficulty" not in answers

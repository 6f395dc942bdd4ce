"""The full daily item set: multi-select, follow-ups, red flags, Back, Skip today."""

from __future__ import annotations

from sqlalchemy import select

from bot.sandbox.users import SimUser
from storage.models import Alert, Answer, Checkin, OutboxMessage
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import TO_SIDE_EFFECTS, answer_all, answer_day, enrol, last, message
from tests.support.harness import Harness


async def _answers(h: Harness) -> dict[str, str]:
    return dict(await h.rows(select(Answer.item_id, Answer.value)))


async def _start(h: Harness, user_id: int, label: str) -> tuple[SimUser, int]:
    user = h.server.user(user_id, first_name="Pat")
    await enrol(h, user, label)
    await h.send(user, "/checkin")
    return user, last(user).message_id


async def test_multi_select_ticks_done_and_follow_up(harness: Harness) -> None:
    h = harness
    user, checkin_message = await _start(h, 4001, "P-4001")
    await answer_day(h, user, TO_SIDE_EFFECTS, until="side_effects")
    assert "6/7" in last(user).text and "Tick all" in last(user).text
    await h.press(user, "Nausea or vomiting")
    await h.press(user, "Headache")
    await h.press(user, "Dizzy or lightheaded")
    await h.press(user, "✅ Dizzy or lightheaded")  # untick
    labels = last(user).labels
    assert "✅ Nausea or vomiting" in labels and "✅ Headache" in labels
    assert "Dizzy or lightheaded" in labels
    assert await h.count(Answer, Answer.item_id == "side_effects") == 0  # not until Done
    await h.press(user, "Done")
    # The bother rating follows as "6b": the total never changes mid check-in.
    assert "6b/7" in last(user).text and "bother" in last(user).text
    await answer_all(h, user, {"bother": "Severe", "safety": "No"})
    answers = await _answers(h)
    assert answers["side_effects"] == "nausea,headache"
    assert answers["bother"] == "severe"
    alert = await h.scalar(select(Alert))
    assert alert is not None and (alert.rule, alert.tier) == ("severe_side_effect", "URGENT")
    assert "Side effects rated severe" in h.server.group(GROUP_A).messages[0].text
    assert "notified" in message(user, checkin_message).text


async def test_none_answers_at_once_and_skips_the_follow_up(harness: Harness) -> None:
    h = harness
    user, _ = await _start(h, 4002, "P-4002")
    await answer_day(h, user, TO_SIDE_EFFECTS, until="side_effects")
    await h.press(user, "Done")  # nothing ticked yet
    assert user.callback_answers[-1].text == "Tick at least one option, or tap None."
    await h.press(user, "None")
    assert "7/7" in last(user).text and "thoughts of death" in last(user).text
    await h.press(user, "No")
    answers = await _answers(h)
    assert answers["side_effects"] == "none" and "bother" not in answers
    assert await h.count(Alert) == 0


async def test_medical_red_flag_shows_the_emergency_card_and_stops(harness: Harness) -> None:
    h = harness
    user, checkin_message = await _start(h, 4003, "P-4003")
    await answer_day(h, user, TO_SIDE_EFFECTS, until="side_effects")
    await h.press(
        user, "Chest pain, trouble breathing, fainting, seizure or sudden severe headache"
    )
    await h.press(user, "Done")
    card = last(user)
    assert "911" in card.text and "988" not in card.text  # medical, not the crisis line
    assert "notified" in card.text
    checkin = await h.scalar(select(Checkin))
    assert checkin is not None and checkin.status == "stopped"
    assert message(user, checkin_message).buttons == []  # no further questions
    alert = await h.scalar(select(Alert))
    assert alert is not None and (alert.rule, alert.tier) == ("medical_red_flag", "IMMEDIATE")
    assert "🔴" in h.server.group(GROUP_A).messages[0].text
    assert "safety" not in await _answers(h)


async def test_unsafe_now_is_immediate_and_asks_nothing_more(harness: Harness) -> None:
    h = harness
    user, checkin_message = await _start(h, 4004, "P-4004")
    await answer_all(
        h,
        user,
        {**TO_SIDE_EFFECTS, "side_effects": "None", "safety": "Yes", "safety_now": "Not sure"},
    )
    rules = sorted((a.rule, a.tier) for a in await h.rows(select(Alert)))
    assert rules == [("safety_thoughts", "URGENT"), ("safety_unsafe_now", "IMMEDIATE")]
    checkin = await h.scalar(select(Checkin))
    assert checkin is not None and checkin.status == "stopped"
    assert message(user, checkin_message).buttons == []
    # One crisis card for the first trigger and one for the escalation: never zero.
    assert sum("988" in m.text for m in user.messages) >= 1
    group = [m.text for m in h.server.group(GROUP_A).messages]
    assert any("IMMEDIATE" in t for t in group) and any("URGENT" in t for t in group)


async def test_took_more_and_urinary_pain_are_urgent(harness: Harness) -> None:
    h = harness
    user, _ = await _start(h, 4005, "P-4005")
    await answer_day(
        h, user, {**TO_SIDE_EFFECTS, "dose": "Took more than prescribed"}, until="side_effects"
    )
    await h.press(user, "Pain or burning when urinating, or blood in urine")
    await answer_all(h, user, {"side_effects": (), "bother": "Mild", "safety": "No"})
    rules = sorted(a.rule for a in await h.rows(select(Alert)))
    # "Mild" also fires the patient-level ROUTINE rule (stored for the digest, not posted).
    assert rules == [
        "side_effect_mild_or_moderate",
        "took_more_than_prescribed",
        "urinary_pain_or_blood",
    ]


async def test_back_changes_the_previous_answer(harness: Harness) -> None:
    h = harness
    user, checkin_message = await _start(h, 4006, "P-4006")
    assert "« Back" not in last(user).labels  # nothing to go back to
    await h.press(user, "5")
    assert "2/7" in last(user).text
    await h.press(user, "« Back")
    assert "1/7" in last(user).text
    assert await h.count(Answer) == 0
    await h.press(user, "8")
    await h.press(user, "2")
    assert await _answers(h) == {"mood": "8", "anxiety": "2"}
    assert last(user).message_id == checkin_message  # still the one message


async def test_skip_today(harness: Harness) -> None:
    h = harness
    user, checkin_message = await _start(h, 4007, "P-4007")
    await h.press(user, "4")
    await h.press(user, "Skip today")
    checkin = await h.scalar(select(Checkin))
    assert checkin is not None and checkin.status == "skipped"
    assert "skipped" in message(user, checkin_message).text
    await h.press_data(user, checkin_message, f"a|{checkin.id}|anxiety|3")
    assert "has closed" in user.callback_answers[-1].text
    assert await _answers(h) == {"mood": "4"}  # what was given is kept
    await h.send(user, "/checkin")
    assert "already done today" in last(user).text


async def test_checkin_again_moves_the_question_down(harness: Harness) -> None:
    h = harness
    user, first_message = await _start(h, 4008, "P-4008")
    await h.press(user, "3")
    await h.send(user, "/checkin")
    assert "continued in the message below" in message(user, first_message).text
    assert message(user, first_message).buttons == []
    assert "2/7" in last(user).text and last(user).message_id != first_message
    await h.press(user, "6")
    assert await _answers(h) == {"mood": "3", "anxiety": "6"}
    assert await h.count(OutboxMessage, OutboxMessage.status != "sent") == 0

"""The optional free-text note item (cohort clinic-c uses the daily_note questionnaire)."""

from __future__ import annotations

from sqlalchemy import select

from bot.sandbox.users import SimUser
from storage.models import Alert, Answer, Checkin, PatientMessage
from tests.e2e.conftest import GROUP_C
from tests.e2e.flows import CALM_DAY, answer_day, enrol, last, message
from tests.support.harness import Harness


async def _to_note(h: Harness, user_id: int, label: str) -> tuple[SimUser, int]:
    user = h.server.user(user_id, first_name="Noa")
    await enrol(h, user, label, cohort="clinic-c")
    await h.send(user, "/checkin")
    checkin_message = last(user).message_id
    await answer_day(h, user, CALM_DAY, until="note")
    assert "8/8" in last(user).text and "Type a short message" in last(user).text
    return user, checkin_message


async def test_a_typed_note_answers_the_item_and_finishes(harness: Harness) -> None:
    h = harness
    user, checkin_message = await _to_note(h, 6001, "P-6001")
    await h.send(user, "Slept badly because of the neighbours, otherwise fine.")
    note = await h.scalar(select(PatientMessage))
    assert note is not None and note.kind == "note" and note.body is not None
    assert "neighbours" in note.body and not note.crisis
    answer = await h.scalar(select(Answer.value).where(Answer.item_id == "note"))
    assert answer == f"note:{note.id}"
    checkin = await h.scalar(select(Checkin))
    assert checkin is not None and checkin.status == "completed"
    assert "done" in message(user, checkin_message).text
    # It is part of the check-in: no separate "message received" reply.
    assert last(user).message_id == checkin_message
    # The group is told a note is waiting and how to read it, as the note's question says
    # (clinic-c does not share text, so the note itself is not in the group).
    [notice] = [m.text for m in h.server.group(GROUP_C).messages]
    assert "P-6001" in notice and "left a note" in notice and "/messages P-6001" in notice
    assert "neighbours" not in notice


async def test_nothing_to_add(harness: Harness) -> None:
    h = harness
    user, _ = await _to_note(h, 6002, "P-6002")
    await h.press(user, "Nothing to add")
    assert await h.scalar(select(Answer.value).where(Answer.item_id == "note")) == "none"
    assert await h.count(PatientMessage) == 0


async def test_crisis_words_in_a_note_escalate_at_once(harness: Harness) -> None:
    h = harness
    user, checkin_message = await _to_note(h, 6003, "P-6003")
    await h.send(user, "I keep thinking about suicide")
    assert "If you are in danger" in last(user).text  # the card, a new message, at once
    alert = await h.scalar(select(Alert))
    assert alert is not None and (alert.rule, alert.tier) == ("crisis_words", "IMMEDIATE")
    group = [m.text for m in h.server.group(GROUP_C).messages]
    assert len(group) == 1 and "P-6003" in group[0] and "I keep" not in group[0]
    assert "thinking about suicide" in group[0]  # only the words that matched
    assert "done" in message(user, checkin_message).text


async def test_text_before_the_note_item_is_a_message_for_the_team(harness: Harness) -> None:
    h = harness
    user = h.server.user(6004, first_name="Early")
    await enrol(h, user, "P-6004", cohort="clinic-c")
    await h.send(user, "/checkin")
    await h.send(user, "hello?")
    assert await h.scalar(select(PatientMessage.kind)) == "text"
    assert await h.count(Answer) == 0

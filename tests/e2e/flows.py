"""Steps many end-to-end tests share."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import select

from bot.domain.callback_data import AnswerButton, DoneButton, ToggleButton, decode
from bot.domain.questionnaire import Item, ItemKind, Questionnaire
from bot.domain.weekly import PCL5, WEEKLY
from bot.sandbox.state import BotMessage
from prompts.questionnaires import load_questionnaire, questionnaire_path
from storage.models import Checkin, Patient
from tests.support.harness import Harness


async def enrol(h: Harness, user: Any, label: str, cohort: str = "clinic-a") -> Patient:
    """Invite, /start, consent: return the enrolled patient row."""
    link = await h.runtime.services.enrolment.create_invite(cohort, label, "test")
    await h.send(user, f"/start {link.code}")
    await h.press(user, "I agree")
    patient = await h.scalar(select(Patient).where(Patient.label == label))
    assert patient is not None
    return patient


FOLLOW_UPS = ["Patient reached", "Safety plan reviewed", "Crisis line given", "No contact yet"]
"""The default follow-up actions offered once an IMMEDIATE or URGENT alert is acknowledged
(prompts/follow_ups.yaml)."""

Answer = str | tuple[str, ...]
"""How a test answers one question: the label to tap, or for a multi-select the labels to tick
(then Done; tick nothing for Done alone)."""
Answers = Mapping[str, Answer]
"""Answers by item id (prompts/questionnaires/*.yaml), so that a question added to a
questionnaire does not shift what a test taps."""
Press = Callable[[BotMessage, str], Awaitable[None]]
"""Press the button with this label on this message, and wait for the bot to react."""

# A calm day, the label the patient taps per item, and what gets stored.
CALM_DAY: Answers = {
    "mood": "7",
    "anxiety": "3",
    "sleep": "Good",
    "energy": "Good",
    "dose": "As prescribed",
    "side_effects": "None",
    "safety": "No",
}
TO_SAFETY: Answers = {k: v for k, v in CALM_DAY.items() if k != "safety"}
"""A calm day up to the safety question, which the test then answers itself
(``answer_day(..., until="safety")``)."""
TO_SIDE_EFFECTS: Answers = {
    "mood": "6",
    "anxiety": "4",
    "sleep": "OK",
    "energy": "OK",
    "dose": "As prescribed",
}
"""An unremarkable day up to the side-effect question, which the test then taps itself
(``answer_day(..., until="side_effects")``)."""
HARD_DAY: Answers = {
    "mood": "2",
    "anxiety": "8",
    "sleep": "Poor",
    "energy": "Low",
    "dose": "As prescribed",
    "side_effects": "None",
    "safety": "Yes",
}
"""A low day with thoughts of self-harm (URGENT); the test answers the follow-up
(``safety_now``) itself."""
CALM_DAY_STORED = {
    "mood": "7",
    "anxiety": "3",
    "sleep": "4",
    "energy": "4",
    "dose": "as_prescribed",
    "side_effects": "none",
    "safety": "no",
}


def neutral(item: Item) -> str:
    """The value a test gives a question it does not name: the one home of that default.

    A scale or a choice gets its middle option (0-10 gives 5; Poor/OK/Good gives OK): the
    questionnaires order options from one end to the other, so the middle is the least
    remarkable. A multi-select gets its "none of these" option (``none_value``), or Done with
    nothing ticked when it has none. A typed item (note, reading) gets its one button ("nothing
    to add"). A safety question has no default: a test that reaches one unnamed fails.
    """
    assert not item.safety, (
        f"the check-in asks the safety question {item.id!r}, which the test does not answer: "
        "name it (safety questions are never answered by default)"
    )
    if item.kind is ItemKind.MULTI:
        return item.none_value or ""
    if item.kind in {ItemKind.NOTE, ItemKind.READING}:
        return item.options[0].value
    return item.options[len(item.options) // 2].value


def _question(user: Any, checkin_id: int | None) -> tuple[BotMessage, int, str] | None:
    """The question the patient is shown: the newest message with check-in answer buttons (of
    ``checkin_id`` once known), its check-in id and the item id its buttons carry."""
    for shown in reversed(user.messages):
        if not isinstance(shown, BotMessage) or shown.deleted:
            continue
        for _, data in (b for row in shown.buttons for b in row):
            button = decode(data) if data else None
            if isinstance(button, AnswerButton | ToggleButton | DoneButton) and (
                checkin_id in {None, button.checkin_id}
            ):
                assert isinstance(button.item, str), f"a button without an item id: {data}"
                return shown, button.checkin_id, button.item
    return None


def _label(shown: BotMessage, checkin_id: int, item: str, value: str) -> str:
    """The label of the button that answers (or ticks) ``value``; Done for an empty value."""
    for label, data in (b for row in shown.buttons for b in row):
        button = decode(data) if data else None
        if value == "" and button == DoneButton(checkin_id, item):
            return label
        if isinstance(button, AnswerButton | ToggleButton) and (button.item, button.value) == (
            item,
            value,
        ):
            return label
    raise AssertionError(f"no button for {item}={value!r} in {shown.buttons}")


async def answer_day(
    h: Harness,
    user: Any,
    answers: Answers,
    *,
    until: str | None = None,
    press: Press | None = None,
) -> None:
    """Answer the check-in the patient is shown, question by question, by item id.

    At each step the question comes from the buttons of the newest check-in message (their
    callback data name the item: bot/domain/callback_data.py). A question ``answers`` names
    is answered with its label(s); one it does not name gets ``neutral``. Stops when the
    check-in shows no more questions, before asking ``until``, or at the first instrument item
    (``instrument_items``) it does not name. Fails if an item
    ``answers`` names was never asked (the test meant something that did not happen).
    """
    questionnaires = h.runtime.services.runtime.config.questionnaires

    async def tap(shown: BotMessage, label: str) -> None:
        if press is None:
            await h.press(user, label, message_id=shown.message_id)
        else:
            await press(shown, label)

    asked: set[str] = set()
    checkin_id: int | None = None
    reached = until is None
    questionnaire: Questionnaire | None = None
    while (found := _question(user, checkin_id)) is not None:
        shown, checkin_id, item_id = found
        if item_id == until:
            reached = True
            break
        if item_id in asked:
            break  # the check-in is over: no new question was shown
        if item_id in instrument_items() and item_id not in answers:
            break  # the day's own questions are done; the test taps the instrument itself
        asked.add(item_id)
        if questionnaire is None:
            checkin = await h.scalar(select(Checkin).where(Checkin.id == checkin_id))
            assert checkin is not None
            questionnaire = questionnaires[checkin.questionnaire]
        item = questionnaire.items[questionnaire.position(item_id)]
        answer = answers.get(item_id)
        if answer is None:
            await tap(shown, _label(shown, checkin_id, item_id, neutral(item)))
        elif isinstance(answer, str):
            await tap(shown, answer)
        else:
            for label in answer:
                await tap(shown, label)
            await tap(shown, _label(shown, checkin_id, item_id, ""))
    assert reached, f"the check-in never reached {until!r} (asked {sorted(asked)})"
    missed = set(answers) - asked
    assert not missed, f"the check-in never asked {sorted(missed)} (asked {sorted(asked)})"


async def answer_all(h: Harness, user: Any, answers: Answers) -> None:
    """Answer the check-in the patient is shown, by item id (``answer_day``)."""
    await answer_day(h, user, answers)


async def press_all(h: Harness, user: Any, labels: Sequence[str]) -> None:
    """Press buttons by label, in order: for the validated instruments' items (PHQ-9, GAD-7,
    PCL-5, fixed by their authors) and buttons that are not questions. Daily questions are
    answered by id (``answer_day``), never by position."""
    for label in labels:
        await h.press(user, label)


@functools.cache
def instrument_items() -> frozenset[str]:
    """The item ids of the validated instruments a check-in may append to the day's own
    questions (bot/domain/weekly.py). ``answer_day`` answers them only when named."""
    return frozenset(
        item.id
        for name in (*WEEKLY, PCL5)
        for item in load_questionnaire(questionnaire_path(name)).items
    )


def last(who: Any) -> BotMessage:
    """The newest bot message in a user's (or group's) chat; fails if there is none."""
    message = who.last_message
    assert message is not None, f"no bot message in {who!r}"
    assert isinstance(message, BotMessage)
    return message


def message(who: Any, message_id: int) -> BotMessage:
    """A bot message in a chat, by id (its current, possibly edited, state)."""
    found = [m for m in who.messages if m.message_id == message_id]
    assert found, f"no message {message_id} in {who!r}"
    assert isinstance(found[0], BotMessage)
    return found[0]

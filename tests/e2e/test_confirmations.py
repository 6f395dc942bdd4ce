"""Server-side confirmations of /delete and /stop: forged, replayed, skipped, expired or
someone else's buttons change nothing, and say so (pressed through the real stack)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from storage.models import Answer, Confirmation, Patient, ProcessedUpdate
from tests.e2e.flows import enrol, last
from tests.support.harness import Harness

REFUSED = (
    "This button is no longer valid (expired, already used, or not yours). Nothing has changed."
)


def _data(who: Any, label: str) -> tuple[int, str]:
    """The message id and callback data of a button in the patient's newest message."""
    message = last(who)
    [data] = [d for row in message.buttons for text, d in row if text == label]
    assert data is not None
    return message.message_id, data


async def _answer_mood(h: Harness, user: Any) -> None:
    await h.send(user, "/checkin")
    await h.press(user, "5")


async def _status(h: Harness, label: str) -> str | None:
    return await h.scalar(select(Patient.status).where(Patient.label == label))


async def test_a_forged_delete_without_the_first_step_erases_nothing(harness: Harness) -> None:
    h = harness
    ann = h.server.user(4101, first_name="Ann")
    await enrol(h, ann, "P-CF1")
    await _answer_mood(h, ann)
    target = last(ann).message_id
    handled = await h.count(ProcessedUpdate)
    for forged in ("y|delete|2", "y|delete|1", "y|delete|2|AAAAAAAAAAAAAAAAAAAAAA", "y|stop|1"):
        await h.press_data(ann, target, forged)
        assert ann.callback_answers[-1].text.startswith(REFUSED)
    assert await h.count(Answer) == 1
    # A refusal writes nothing, not even that its update was handled (bot.services.envelope).
    assert await h.count(ProcessedUpdate) == handled
    assert await _status(h, "P-CF1") == "active"


async def test_replayed_skipped_and_expired_steps_do_nothing(harness: Harness) -> None:
    h = harness
    bo = h.server.user(4102, first_name="Bo")
    await enrol(h, bo, "P-CF2")
    await _answer_mood(h, bo)
    await h.send(bo, "/delete")
    asked, first = _data(bo, "Yes, erase my data")
    # Skipping "Are you sure?" with the genuine token: refused.
    await h.press_data(bo, asked, first.replace("|1|", "|2|"))
    assert bo.callback_answers[-1].text.startswith(REFUSED)
    assert "Send /delete again" in bo.callback_answers[-1].text
    await h.press(bo, "Yes, erase my data")
    assert "Are you sure" in last(bo).text
    # The first step again (a replay with a new update id): refused.
    await h.press_data(bo, asked, first)
    assert bo.callback_answers[-1].text.startswith(REFUSED)
    # Ten minutes on, the last step is refused too.
    await h.advance(timedelta(minutes=10, seconds=1))
    await h.press(bo, "Erase everything now")
    assert bo.callback_answers[-1].text.startswith(REFUSED)
    assert await h.count(Answer) == 1
    # A new /delete works, once.
    await h.send(bo, "/delete")
    await h.press(bo, "Yes, erase my data")
    final_at, final = _data(bo, "Erase everything now")
    await h.press(bo, "Erase everything now")
    assert "has been erased" in last(bo).text
    assert await h.count(Answer) == 0
    await h.press_data(bo, final_at, final)
    assert bo.callback_answers[-1].text == "This button is not valid for you."


async def test_another_patients_or_another_messages_token_is_refused(harness: Harness) -> None:
    h = harness
    cy = h.server.user(4103, first_name="Cy")
    di = h.server.user(4104, first_name="Di")
    await enrol(h, cy, "P-CF3")
    await enrol(h, di, "P-CF4")
    await h.send(cy, "/stop")
    _, cy_stop = _data(cy, "Yes, stop")
    await h.send(di, "/stop")
    di_asked, _ = _data(di, "Yes, stop")
    # Di's client sends Cy's button on Di's own question.
    await h.press_data(di, di_asked, cy_stop)
    assert di.callback_answers[-1].text.startswith(REFUSED)
    assert await _status(h, "P-CF3") == "active" and await _status(h, "P-CF4") == "active"
    # Cy's button from the first question, sent on a second /stop question: refused.
    await h.send(cy, "/stop")
    second, _ = _data(cy, "Yes, stop")
    await h.press_data(cy, second, cy_stop)
    assert cy.callback_answers[-1].text.startswith(REFUSED)
    assert await _status(h, "P-CF3") == "active"
    # The genuine press on its own question stops; pressing it again changes nothing.
    await h.press(cy, "Yes, stop", message_id=second)
    assert "stopped taking part" in last(cy).text
    assert await _status(h, "P-CF3") == "withdrawn"
    used = await h.rows(select(Confirmation).where(Confirmation.used_at.is_not(None)))
    assert len(used) == 1


async def test_cancel_ends_the_token(harness: Harness) -> None:
    h = harness
    eve = h.server.user(4105, first_name="Eve")
    await enrol(h, eve, "P-CF5")
    await h.send(eve, "/delete")
    asked, yes = _data(eve, "Yes, erase my data")
    await h.press(eve, "Cancel")
    assert "Nothing has changed" in last(eve).text
    await h.press_data(eve, asked, yes)
    assert eve.callback_answers[-1].text.startswith(REFUSED)
    assert await _status(h, "P-CF5") == "active"

"""Steps many end-to-end tests share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.sandbox.state import BotMessage
from storage.models import Patient
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

# A calm day, one label per item as the patient taps them, and what gets stored.
CALM_DAY = ["7", "3", "Good", "Good", "As prescribed", "None", "No"]
CALM_DAY_STORED = {
    "mood": "7",
    "anxiety": "3",
    "sleep": "4",
    "energy": "4",
    "dose": "as_prescribed",
    "side_effects": "none",
    "safety": "no",
}


async def answer_all(h: Harness, user: Any, labels: list[str]) -> None:
    """Tap through the check-in message, one label per item."""
    for label in labels:
        await h.press(user, label)


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

"""People who are not enrolled, and invite guessing (issue 13, item 3): a few answers a
minute per sender, then silence with nothing stored; invite codes tighter; patients never
held back; a crisis text still answered with the crisis card."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.domain.throttle import StrangerLimits
from bot.ops.metrics import Metrics
from bot.services.outbox import Priority
from storage.models import Invite, OutboxMessage, Patient, ProcessedUpdate
from tests.e2e.flows import enrol, last
from tests.support.harness import Harness


def _metrics(h: Harness) -> Metrics:
    metrics = h.runtime.metrics
    assert metrics is not None
    return metrics


LIMITS = StrangerLimits()


async def _written(h: Harness) -> tuple[int, int]:
    """(processed updates, outbox rows): what handling a message writes."""
    return await h.count(ProcessedUpdate), await h.count(OutboxMessage)


async def _dropped(h: Harness) -> dict[str, float]:
    scrape = (await _metrics(h).scrape()).decode()
    found = {}
    for line in scrape.splitlines():
        if line.startswith("moodcheck_stranger_messages_dropped_total{"):
            kind = line.split('kind="', 1)[1].split('"', 1)[0]
            found[kind] = float(line.rsplit(" ", 1)[1])
    return found


async def test_a_stranger_gets_a_few_answers_then_silence_and_nothing_is_written(
    harness: Harness,
) -> None:
    h = harness
    stranger = h.server.user(3301, first_name="Flood")
    per_sender = LIMITS.per_sender[0]
    for n in range(per_sender):
        await h.send(stranger, f"hello {n}")
    assert len(stranger.messages) == per_sender
    assert "personal invite link" in last(stranger).text
    priorities = await h.rows(select(OutboxMessage.priority))
    assert priorities == [Priority.STRANGER] * per_sender  # after every patient's prompt

    before = await _written(h)
    for n in range(10):
        await h.send(stranger, f"again {n}")
        await h.send(stranger, "/help")
    assert len(stranger.messages) == per_sender  # silence
    assert await _written(h) == before  # no update claimed, nothing queued
    assert (await _dropped(h))["message"] == 20

    # A minute later they are answered again.
    await h.advance(timedelta(seconds=61))
    await h.send(stranger, "anyone?")
    assert len(stranger.messages) == per_sender + 1


async def test_invite_guessing_is_limited_per_sender_and_overall(harness: Harness) -> None:
    h = harness
    await h.runtime.services.enrolment.create_invite("clinic-a", "P-0001", "test")
    guesser = h.server.user(3302, first_name="Guess")
    tries = 0
    for _ in range(4):  # minutes
        for _ in range(LIMITS.per_sender[0]):
            await h.send(guesser, f"/start {'A' * 21}{tries % 10}")
            tries += 1
        await h.advance(timedelta(seconds=61))
    # Five codes in ten minutes were looked up and refused; the others never got that far.
    refused = [m for m in guesser.messages if "not valid" in m.text]
    assert len(refused) == LIMITS.invites_per_sender[0]
    assert (await _dropped(h))["invite"] == 4 * LIMITS.per_sender[0] - len(refused)
    assert await h.count(Patient) == 0
    assert [i.status for i in await h.rows(select(Invite))] == ["open"]

    # All guessers together: at most 20 codes a minute are looked up.
    overall = LIMITS.invites_overall[0]
    guessers = [h.server.user(3400 + n, first_name="G") for n in range(overall + 5)]
    for n, user in enumerate(guessers):
        await h.send(user, f"/start {'B' * 21}{n % 10}")
    looked_up = sum(1 for u in guessers for m in u.messages if "not valid" in m.text)
    assert looked_up == overall

    # A real invite still works for its patient a minute on (their own limits are fresh).
    await h.advance(timedelta(seconds=61))
    patient = h.server.user(3500, first_name="Real")
    await enrol(h, patient, "P-0002")


async def test_patients_are_never_held_back(harness: Harness) -> None:
    h = harness
    ann = h.server.user(3601, first_name="Ann")
    await enrol(h, ann, "P-ANN1")
    before = len(ann.messages)
    for n in range(8):
        await h.send(ann, f"note {n}")
    assert len(ann.messages) == before + 8
    assert await h.scalar(select(func.count()).select_from(ProcessedUpdate)) is not None
    assert (await _dropped(h)).get("message", 0) == 0


async def test_a_stranger_in_crisis_still_gets_the_crisis_card(harness: Harness) -> None:
    h = harness
    stranger = h.server.user(3701, first_name="Lost")
    for n in range(LIMITS.per_sender[0]):
        await h.send(stranger, f"hi {n}")
    count = len(stranger.messages)
    # Over the limits, crisis words are still answered: once in ten minutes.
    await h.send(stranger, "I want to kill myself")
    assert any("If you are in danger" in m.text for m in stranger.messages[count:])
    count = len(stranger.messages)
    await h.send(stranger, "I want to kill myself")
    assert len(stranger.messages) == count
    assert (await _dropped(h))["crisis"] == 1

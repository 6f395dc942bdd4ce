"""The database-outage scenario of issue 13 (item 2), shared by the end-to-end test and
``bench/outage.py``: 50 patients tap an answer, one answers the safety question "Yes" and one
writes crisis words while the database is away; then it comes back.

It measures and returns; the test asserts on what it returns, the benchmark prints it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.sandbox.server import FakeBotApi
from storage.models import Alert, Answer, Checkin, Patient, PatientMessage, ProcessedUpdate
from tests.e2e.flows import TO_SAFETY, answer_day, enrol
from tests.support.faults import DatabaseOutage
from tests.support.harness import Harness

CARD = "Someone to talk to now"
"""A line of the full crisis card only (the enrolment message mentions danger too)."""
FOLLOWUP = "Your care team has now been notified"
COULD_NOT_SAVE = "I could not save that yet: the system is having trouble."
CRISIS_TEXT = "some days I want to die"


@dataclass
class OutageResult:
    """What happened, as the patients and the database saw it."""

    outage_seconds: float
    card_after_yes: float | None = None
    card_after_text: float | None = None
    taps_told_could_not_save: int = 0
    stored_during_outage: int | None = None
    """ProcessedUpdate rows of the outage's updates while it lasted (None: not read, SQLite's
    reader would wait for the lock too)."""
    alerts_during_outage: int | None = None
    group_messages_during_outage: int = 0
    recovered_in: float = 0.0
    """Seconds from the database's return until every update was stored and sent."""
    updates: int = 0
    stored: int = 0
    distinct_mood_answers: int = 0
    safety_answers: list[str] = field(default_factory=list)
    crisis_messages: list[bool] = field(default_factory=list)
    alert_rules: list[str] = field(default_factory=list)
    cards_seen: list[int] = field(default_factory=list)
    followups_seen: list[int] = field(default_factory=list)
    cards_in_cohort_region: int = 0
    """Cards with the cohort's own numbers (clinic-a is US: 988), known without the database."""
    checkins_moved_on: int = 0


def _texts(who: Any) -> list[str]:
    return [m.text for m in who.messages]


async def _within(server: FakeBotApi, predicate: Any, seconds: float) -> float | None:
    started = time.monotonic()
    try:
        await server.wait_for(predicate, timeout=seconds)
    except TimeoutError:
        return None
    return time.monotonic() - started


async def run_outage(
    h: Harness, outage: DatabaseOutage, group: int, *, seconds: float, patients: int = 50
) -> OutageResult:
    """Run the scenario with the database away for ``seconds``."""
    result = OutageResult(outage_seconds=seconds)
    sqlite = h.db_url.startswith("sqlite")
    tappers = [h.server.user(3000 + i, first_name=f"T{i}") for i in range(patients)]
    for i, user in enumerate(tappers):
        await enrol(h, user, f"P-OUT{i:02d}")
        await h.send(user, "/checkin")
    safe = h.server.user(3900, first_name="Sam")
    await enrol(h, safe, "P-SAFE")
    await h.send(safe, "/checkin")
    await answer_day(h, safe, TO_SAFETY, until="safety")
    texter = h.server.user(3901, first_name="Tex")
    await enrol(h, texter, "P-TEXT")
    alerts_before = await h.count(Alert)
    group_before = len(h.server.group(group).messages)

    await outage.begin()
    down_at = time.monotonic()
    taps = [h.track(await user.press("7")) for user in tappers]
    yes = h.track(await safe.press("Yes"))
    result.card_after_yes = await _within(
        h.server, lambda: any(CARD in t for t in _texts(safe)), 5.0
    )
    text = h.track(await texter.send_text(CRISIS_TEXT))
    result.card_after_text = await _within(
        h.server, lambda: any(CARD in t for t in _texts(texter)), 5.0
    )
    ids = [*taps, yes, text]
    result.updates = len(ids)
    remaining = seconds - (time.monotonic() - down_at)
    if remaining > 0:
        await asyncio.sleep(remaining)
    result.taps_told_could_not_save = sum(
        any(COULD_NOT_SAVE in a.text for a in user.callback_answers) for user in tappers
    )
    if not sqlite:
        result.stored_during_outage = await h.count(
            ProcessedUpdate, ProcessedUpdate.update_id.in_(ids)
        )
        result.alerts_during_outage = await h.count(Alert) - alerts_before
    result.group_messages_during_outage = len(h.server.group(group).messages) - group_before
    result.followups_seen = [sum(FOLLOWUP in t for t in _texts(w)) for w in (safe, texter)]

    await outage.end()
    up_at = time.monotonic()
    await h.settle(timeout=120.0)
    result.recovered_in = time.monotonic() - up_at
    # The bot's clock is the test's: let sends that were told to wait (a 429 in the burst
    # after the outage, a retry of a send that failed on the database) come due.
    await h.advance(timedelta(seconds=30))

    result.stored = await h.count(ProcessedUpdate, ProcessedUpdate.update_id.in_(ids))
    moods = await h.rows(
        select(Answer.checkin_id)
        .join(Checkin, Checkin.id == Answer.checkin_id)
        .join(Patient, Patient.id == Checkin.patient_id)
        .where(Answer.item_id == "mood", Patient.label.like("P-OUT%"))
    )
    result.distinct_mood_answers = len(set(moods)) if len(moods) == len(set(moods)) else -1
    result.safety_answers = list(
        await h.rows(select(Answer.value).where(Answer.item_id == "safety"))
    )
    result.crisis_messages = list(await h.rows(select(PatientMessage.crisis)))
    result.alert_rules = sorted(await h.rows(select(Alert.rule)))
    result.cards_seen = [sum(CARD in t for t in _texts(w)) for w in (safe, texter)]
    result.followups_seen = [sum(FOLLOWUP in t for t in _texts(w)) for w in (safe, texter)]
    result.cards_in_cohort_region = sum(
        CARD in t and "988" in t for w in (safe, texter) for t in _texts(w)
    )
    result.checkins_moved_on = sum(
        1 for user in tappers if user.last_message and "2/7" in user.last_message.text
    )
    return result

"""Taps during a fan-out: a patient's edit (the answer to their tap) goes ahead of other
patients' prompts queued before it, in the outbox, and does not wait for the overall rate
limit they wait for (issue 16; docs/performance.md, "Taps during a fan-out")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from functools import partial

import pytest

from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.sandbox.server import FakeBotApi
from bot.services.outbox import Priority, queue_send
from bot.transport.ratelimit import PACE_SLICES, URGENT_MEMORY, Limits
from tests.e2e.flows import enrol, last
from tests.support.harness import Harness
from tests.support.stoppable_clock import LimiterClock

OVERALL = 10
"""Sends a second the bot allows itself here: few, so that a fan-out fills the window at once."""
PROMPTS = 40
FIRST_CHAT = 8_000_000


@pytest.fixture(name="limiter_clock")
def fx_limiter_clock() -> LimiterClock:
    return LimiterClock()


@pytest.fixture(name="harness")
async def fx_harness(
    server: FakeBotApi,
    db_url: str,
    config: AppConfig,
    clock: ManualClock,
    limiter_clock: LimiterClock,
) -> AsyncIterator[Harness]:
    harness = Harness(
        server,
        db_url,
        config,
        clock,
        limits=Limits(overall=(OVERALL, 1.0)),
        limiter_clock=limiter_clock,
    )
    await harness.start_bot()
    yield harness
    limiter_clock.go_on()  # what waits for the window goes, even after a failure
    await harness.close()


async def _until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait for a condition (the bot's own tasks move it on)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


def _accepted(server: FakeBotApi) -> list[tuple[str, int]]:
    """(method, chat) of every send and edit the server took, in its order."""
    return [
        (record.method, int(record.params["chat_id"]))
        for record in server.requests
        if record.method in {"sendMessage", "editMessageText"} and record.status == 200
    ]


def _sent_since(server: FakeBotApi, before: int, count: int) -> bool:
    """Whether the server has taken ``count`` sends and edits since the ``before``-th."""
    return len(_accepted(server)) - before == count


async def test_a_tap_is_answered_before_prompts_queued_earlier(
    harness: Harness, limiter_clock: LimiterClock
) -> None:
    h = harness
    patient = h.server.user(1001, first_name="Tapping")
    await enrol(h, patient, "P-TAP1")
    await h.send(patient, "/checkin")
    question = last(patient)
    assert "1/7" in question.text
    others = [h.server.user(FIRST_CHAT + i, first_name=f"P{i}").chat_id for i in range(PROMPTS)]
    limiter = h.runtime.limiter
    assert limiter is not None

    # Long enough since enrolment's sends that the limiter keeps no places for taps.
    limiter_clock.stop()
    limiter_clock.advance(URGENT_MEMORY + 1.0)
    before = len(_accepted(h.server))
    runtime = h.runtime.services.runtime
    async with runtime.uow() as uow:
        for chat in others:
            await queue_send(
                uow,
                now=h.clock.now(),
                chat_id=chat,
                text="How are you?",
                priority=Priority.ROUTINE,
            )
        await uow.commit()
    h.runtime.worker.wake()
    # A fan-out fills the overall window, a quarter of it at a time (ratelimit.PACE_SLICES);
    # the other prompts wait for room.
    quarter = -(-OVERALL // PACE_SLICES)
    sent = quarter
    await _until(partial(_sent_since, h.server, before, quarter))
    while sent < OVERALL:
        limiter_clock.advance(0.26)
        sent = min(OVERALL, sent + quarter)
        await _until(partial(_sent_since, h.server, before, sent))

    # The patient taps; the edit that answers it goes at once, the limiter's clock stopped
    # and its overall window full: an edit counts in its chat's window only
    # (docs/architecture.md, "Telegram facts the design rests on").
    h.track(await patient.press("7", message_id=question.message_id))
    await _until(lambda: ("editMessageText", patient.chat_id) in _accepted(h.server)[before:])
    assert limiter.urgent_waiting == 0
    order = _accepted(h.server)[before:]
    assert order.index(("editMessageText", patient.chat_id)) == OVERALL, order
    assert "2/7" in last(patient).text

    limiter_clock.go_on()
    await h.settle(60.0)  # the fan-out finishes: every prompt once
    prompts = [chat for method, chat in _accepted(h.server)[before:] if method == "sendMessage"]
    assert sorted(prompts) == sorted(others)

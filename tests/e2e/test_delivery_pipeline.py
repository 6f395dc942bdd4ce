"""Delivery as a pipeline: a bounded window of requests in flight; a slow answer holds one
place and its own chat, never the others (issue 16: with rounds, one slow answer held a round
of 64 and the fan-out took 10.9 times as long)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

from bot.sandbox.server import FakeBotApi
from bot.services.outbox import Priority, queue_send
from bot.transport.delivery import DeliveryPolicy
from tests.support.harness import Harness

FIRST_CHAT = 7_000_000


async def _queue(h: Harness, chats: list[int], text: str, priority: Priority) -> None:
    runtime = h.runtime.services.runtime
    async with runtime.uow() as uow:
        for chat in chats:
            await queue_send(uow, now=h.clock.now(), chat_id=chat, text=text, priority=priority)
        await uow.commit()
    h.runtime.worker.wake()


def _users(server: FakeBotApi, count: int) -> list[int]:
    return [server.user(FIRST_CHAT + i, first_name=f"U{i}").chat_id for i in range(count)]


def _arrivals(server: FakeBotApi) -> list[tuple[int, str]]:
    """(chat, text) of every message sent, in the order the server took them."""
    return [
        (int(record.params["chat_id"]), str(record.params["text"]))
        for record in server.requests
        if record.method == "sendMessage" and record.status == 200
    ]


async def _until(h: Harness, condition: Callable[[], bool], timeout: float) -> None:
    """Wait for a condition, the bot's clock keeping up with real time (a send the server
    refused with a 429 on a busy machine is due again a second or two later)."""
    deadline = time.monotonic() + timeout
    ticked = time.monotonic()
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)
        if time.monotonic() - ticked >= 0.5:
            ticked = time.monotonic()
            h.clock.advance(timedelta(seconds=0.5))
            h.runtime.worker.wake()


async def test_a_slow_answer_holds_back_only_its_own_chat(harness: Harness) -> None:
    h = harness
    chats = _users(h.server, 100)
    slow = chats[0]
    # A slow Telegram: 10 s is an answer, not a timeout (no retry, no duplicate).
    h.server.faults.delay(method="sendMessage", seconds=10.0, chat_id=slow, times=1)
    await _queue(h, chats, "first", Priority.ROUTINE)
    await _queue(h, [slow], "second", Priority.ROUTINE)
    started = time.monotonic()
    # The 99 other chats all have their message while the slow answer is still awaited ...
    await _until(h, lambda: sum(1 for c, _ in _arrivals(h.server) if c != slow) == 99, 60.0)
    others_done = time.monotonic() - started
    assert (slow, "first") not in _arrivals(h.server), others_done
    # ... and the slow chat's second message waits for its first (one chat, in order).
    await _until(h, lambda: (slow, "second") in _arrivals(h.server), 30.0)
    to_slow = [text for chat, text in _arrivals(h.server) if chat == slow]
    assert to_slow == ["first", "second"]
    await h.settle()
    assert h.runtime.worker.stats.sent == 101
    assert "TimedOut" not in str(h.runtime.worker.stats.by_error)


async def test_no_more_than_the_window_is_in_flight(harness: Harness) -> None:
    h = harness
    window = DeliveryPolicy().window
    chats = _users(h.server, 60)
    delay = 0.5
    h.server.faults.delay(method="sendMessage", seconds=delay)
    await _queue(h, chats, "prompt", Priority.ROUTINE)
    await _queue(h, [chats[0] + 1000], "crisis", Priority.CRISIS)  # an urgent one too
    h.server.user(chats[0] + 1000, first_name="Urgent")
    await _until(h, lambda: len(_arrivals(h.server)) == 61, 60.0)
    h.server.faults.clear()
    await h.settle()
    # Every answer took at least ``delay``: requests that started within less than that of
    # each other were all in flight at once.
    starts = sorted(r.time for r in h.server.requests if r.method == "sendMessage")
    most, first = 0, 0
    for last, start in enumerate(starts):
        while start - starts[first] >= delay * 0.9:
            first += 1
        most = max(most, last - first + 1)
    assert most <= window, most
    # Routine prompts never took the places kept for urgent messages.
    routine = sorted(
        r.time
        for r in h.server.requests
        if r.method == "sendMessage" and r.params.get("text") == "prompt"
    )
    most, first = 0, 0
    for last, start in enumerate(routine):
        while start - routine[first] >= delay * 0.9:
            first += 1
        most = max(most, last - first + 1)
    assert most <= window - DeliveryPolicy().urgent_reserve, most
